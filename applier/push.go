package applier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/ghevent"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/kustomize"
	"github.com/promobot/promobot/internal/markdown"
	"github.com/promobot/promobot/internal/render"
	"github.com/promobot/promobot/internal/state"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// pushPayload is the part of a push delivery the applier reads.
type pushPayload struct {
	Ref     string `json:"ref"`
	Before  string `json:"before"`
	After   string `json:"after"`
	Deleted bool   `json:"deleted"`
	// HeadCommit's message may allow a mass prune.
	HeadCommit struct {
		Message string `json:"message"`
	} `json:"head_commit"`
	Commits    []pushCommit `json:"commits"`
	Repository struct {
		Name          string `json:"name"`
		DefaultBranch string `json:"default_branch"`
		HTMLURL       string `json:"html_url"`
		CloneURL      string `json:"clone_url"`
		SSHURL        string `json:"ssh_url"`
		Owner         struct {
			Login string `json:"login"`
			Name  string `json:"name"`
		} `json:"owner"`
	} `json:"repository"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// pushCommit is one commit a push payload lists.
type pushCommit struct {
	Added    []string `json:"added"`
	Removed  []string `json:"removed"`
	Modified []string `json:"modified"`
	// Message and Timestamp (RFC 3339) date a promotion commit
	// (Target.Promotions); a Timestamp that does not parse dates nothing.
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

// handlePush applies a push to the default branch; it returns the commit
// applied (what the ledger records), or "" for a push it leaves alone.
func (a *Applier) handlePush(ctx context.Context, d events.Delivery) (string, error) {
	p, err := ghevent.DecodePayload[pushPayload](d)
	if err != nil {
		return "", err
	}
	owner := p.Repository.Owner.Login
	if owner == "" {
		owner = p.Repository.Owner.Name
	}
	repo := Repo{Owner: owner, Name: p.Repository.Name}
	log := events.Logger(ctx).With("repo", repo.String(), "revision", markdown.ShortSHA(p.After))
	if p.Deleted || p.After == zeroSHA || p.Ref != "refs/heads/"+p.Repository.DefaultBranch {
		log.Debug("push not to the default branch, ignored", "ref", p.Ref)
		return "", nil
	}
	if p.Installation.ID == 0 {
		return "", events.Permanent(fmt.Errorf("push %s to %s: no installation in the payload", d.Event.ID(), repo))
	}
	gh, err := a.gh.GitHub(ctx, p.Installation.ID)
	if err != nil {
		return "", errorf(repo.String(), err)
	}

	target := Target{
		Repo: repo, Commit: p.After, Branch: p.Repository.DefaultBranch,
		RepoURLs:       []string{p.Repository.HTMLURL, p.Repository.CloneURL, p.Repository.SSHURL},
		AllowMassPrune: AllowsMassPrune(p.HeadCommit.Message),
		Rollbacks:      RollbackBranches(p.HeadCommit.Message),
		Promotions:     a.promotionStarts(ctx, repo, p.HeadCommit.Message, p.Commits),
	}
	if p.Before != "" && p.Before != zeroSHA {
		if target.Changed, err = pushChanges(ctx, gh, repo, p, log); err != nil {
			return "", errorf(repo.String(), err)
		}
	}
	if _, err := a.Sync(ctx, gh, target, nil); err != nil {
		return "", err
	}
	return p.After, nil
}

// pushChanges returns the files a push changed, or nil when they cannot
// be known, so that every app is considered. The payload lists them when
// it lists every commit, each with every file: GitHub lists at most
// github.MaxPushCommits commits and github.MaxCommitFiles files of each.
// Otherwise a compare of before...after lists them, unless it is at
// GitHub's github.MaxCompareFiles, GitHub could not generate it (5xx), or
// the push moved the branch to a commit that is not ahead of before (a
// force push: the three-dot compare does not describe it).
func pushChanges(ctx context.Context, gh RepoReader, repo Repo, p pushPayload, log *slog.Logger) ([]string, error) {
	if changed, ok := payloadChanges(p); ok {
		return changed, nil
	}
	cmp, err := gh.Compare(ctx, repo, p.Before, p.After)
	switch {
	case github.FilesUnknown(err):
		log.Warn("changed files unknown: GitHub could not compare the push, every app is considered", "error", err)
		return nil, nil
	case err != nil:
		return nil, err
	case cmp.Truncated:
		log.Info("changed files unknown: the push changes more files than GitHub lists, every app is considered",
			"listed", len(cmp.Files))
		return nil, nil
	case cmp.Status != "ahead" && cmp.Status != "identical":
		log.Info("changed files unknown: the push moved the branch to a commit not ahead of the last, every app is considered",
			"compare", cmp.Status)
		return nil, nil
	}
	return append([]string{}, cmp.Paths()...), nil
}

// payloadChanges returns the files the commits of a push payload list, and
// whether that is every file the push changed: a payload with no commit,
// with GitHub's maximum of commits, or with a commit at GitHub's maximum
// of files says nothing complete.
func payloadChanges(p pushPayload) ([]string, bool) {
	if len(p.Commits) == 0 || len(p.Commits) >= github.MaxPushCommits {
		return nil, false
	}
	changed := []string{}
	for _, c := range p.Commits {
		if len(c.Added)+len(c.Removed)+len(c.Modified) >= github.MaxCommitFiles {
			return nil, false
		}
		changed = append(changed, c.Added...)
		changed = append(changed, c.Removed...)
		changed = append(changed, c.Modified...)
	}
	return changed, true
}

// installationPayload is the part of installation deliveries the applier reads.
type installationPayload struct {
	Action       string `json:"action"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
	Repositories []struct {
		FullName string `json:"full_name"`
	} `json:"repositories"`
	RepositoriesAdded []struct {
		FullName string `json:"full_name"`
	} `json:"repositories_added"`
}

// handleInstallation syncs every app of each repository the App was just
// installed on: installing the App is all the setup a repository needs.
func (a *Applier) handleInstallation(ctx context.Context, d events.Delivery) (string, error) {
	p, err := ghevent.DecodePayload[installationPayload](d)
	if err != nil {
		return "", err
	}
	repos := p.RepositoriesAdded
	if d.Event.Type() == "com.github.installation.created" {
		repos = p.Repositories
	} else if d.Event.Type() != "com.github.installation_repositories.added" {
		return "", nil
	}
	gh, err := a.gh.GitHub(ctx, p.Installation.ID)
	if err != nil {
		return "", err
	}
	for _, r := range repos {
		owner, name, ok := strings.Cut(r.FullName, "/")
		if !ok {
			continue
		}
		if _, err := a.SyncHead(ctx, gh, Target{Repo: Repo{Owner: owner, Name: name}}, nil); err != nil {
			return "", err
		}
	}
	return "synced", nil
}

// Target says what to sync.
type Target struct {
	Repo   Repo
	Commit string
	// Changed limits the sync to apps whose render can depend on these
	// files; nil syncs every app.
	Changed []string
	// RepoURLs are the repository's own URLs; Applications pointing at other
	// repositories are skipped. Empty accepts any.
	RepoURLs []string
	// Apps limits the sync to these app names; empty means all.
	Apps []string
	// Cluster limits the sync to apps whose destination is this server or
	// name; empty means all.
	Cluster string
	// Branch is the default branch Commit is on. Apps whose targetRevision
	// names another revision are not applied from it.
	Branch string
	// AllowMassPrune lets this sync prune more than half of an app's
	// objects (the commit message allowed it, see AllowsMassPrune).
	AllowMassPrune bool
	// Rollbacks are the "<app>/<env>" of the rollback branches Commit's
	// message names (RollbackBranches): the merge of a /rollback pull
	// request.
	Rollbacks []string
	// Promotions maps the "<app>/<env>" of each promotion branch Commit's
	// message names (the merge of a promotion pull request) to when the
	// promotion started: the merge of the pull request it promotes when
	// promobot heard of it, else the earliest promotion commit the push
	// brought (promotionStarts). Applies of those apps record the
	// promotion's lead time from it.
	Promotions map[string]time.Time
}

// rollbackBranchRE matches a /rollback pull request's branch in a merge
// message ("Merge pull request #12 from acme/promobot/rollback/api/production").
var rollbackBranchRE = regexp.MustCompile(`promobot/rollback/([A-Za-z0-9._-]+)/([a-z0-9-]+)`)

// RollbackBranches returns the "<app>/<env>" of every rollback branch a
// commit message names.
func RollbackBranches(message string) []string {
	var out []string
	for _, m := range rollbackBranchRE.FindAllStringSubmatch(message, -1) {
		out = append(out, m[1]+"/"+m[2])
	}
	return out
}

// rollsBack reports whether t is the merge of a rollback of app: a
// rollback branch of its environment whose app is app or its base name.
func (t Target) rollsBack(app gitops.App) bool {
	for _, r := range t.Rollbacks {
		if branchNames(r, app) {
			return true
		}
	}
	return false
}

// branchNames reports whether r, the "<app>/<env>" of a promotion or
// rollback branch, names app: its environment, and app or its base name.
func branchNames(r string, app gitops.App) bool {
	base, env, _ := strings.Cut(r, "/")
	return env == app.Environment && (app.Name == base || strings.HasPrefix(app.Name, base+"-") || strings.HasSuffix(app.Name, "-"+base))
}

// promoteBranchRE matches a promotion pull request's branch in a merge
// message ("Merge pull request #12 from acme/promobot/promote/api/production").
var promoteBranchRE = regexp.MustCompile(`promobot/promote/([A-Za-z0-9._-]+)/([a-z0-9-]+)`)

// promotionTimes returns Target.Promotions of a push: for each promotion
// branch the head commit's message names, the earliest time of the pushed
// commits that promobot wrote on a promotion branch ("Promote <app> to
// <env>"); nil when there are none.
func promotionTimes(head string, commits []pushCommit) map[string]time.Time {
	var out map[string]time.Time
	for _, m := range promoteBranchRE.FindAllStringSubmatch(head, -1) {
		prefix := "Promote " + m[1] + " to " + m[2] + "\n"
		for _, c := range commits {
			at, err := time.Parse(time.RFC3339, c.Timestamp)
			if err != nil || !strings.HasPrefix(c.Message+"\n", prefix) {
				continue
			}
			key := m[1] + "/" + m[2]
			if prev, ok := out[key]; !ok || at.Before(prev) {
				if out == nil {
					out = map[string]time.Time{}
				}
				out[key] = at
			}
		}
	}
	return out
}

// sourcePRRE matches the line of a promotion commit's message that names
// the pull request promoted ("Source: staging at 1a2b3c4 (#12)").
var sourcePRRE = regexp.MustCompile(`(?m)^Source: \S+ at [0-9a-f]+ \(#([0-9]{1,9})\)$`)

// promotionStarts is Target.Promotions of a push: when each promotion it
// merges started. That is the merge of the pull request the promotion
// carries (its number on the promotion commit's Source line), as its
// closed event told promobot (state.Merges), when that is known and
// earlier; else the promotion commit's own time (promotionTimes).
func (a *Applier) promotionStarts(ctx context.Context, repo Repo, head string, commits []pushCommit) map[string]time.Time {
	out := promotionTimes(head, commits)
	for key, at := range out {
		app, env, _ := strings.Cut(key, "/")
		prefix := "Promote " + app + " to " + env + "\n"
		for _, c := range commits {
			m := sourcePRRE.FindStringSubmatch(c.Message)
			if m == nil || !strings.HasPrefix(c.Message+"\n", prefix) {
				continue
			}
			n, _ := strconv.Atoi(m[1])
			if merge, ok := a.merges.Get(ctx, repo, n); ok && !merge.MergedAt.IsZero() && merge.MergedAt.Before(at) {
				out[key] = merge.MergedAt
			}
			break
		}
	}
	return out
}

// promotedAt is when the promotion of app that t merges was written (see
// Promotions), or zero.
func (t Target) promotedAt(app gitops.App) time.Time {
	for r, at := range t.Promotions {
		if branchNames(r, app) {
			return at
		}
	}
	return time.Time{}
}

// MassPruneTrailer is the commit message line that allows the commit's
// apply to prune more than half of an app's objects.
const MassPruneTrailer = "promobot: allow-mass-prune"

// AllowsMassPrune reports whether a commit message has a line that is
// exactly MassPruneTrailer (surrounding spaces aside, case-insensitive).
func AllowsMassPrune(message string) bool {
	for line := range strings.SplitSeq(message, "\n") {
		if strings.EqualFold(strings.TrimSpace(line), MassPruneTrailer) {
			return true
		}
	}
	return false
}

// SyncHead syncs t at the head of the repository's default branch (t.Commit
// and t.RepoURLs are filled in): what runs when the App is installed, and
// what `promobot sync` runs to rebuild a cluster.
func (a *Applier) SyncHead(ctx context.Context, gh GitHub, t Target, progress Progress) ([]Outcome, error) {
	info, err := gh.Repository(ctx, t.Repo)
	if err != nil {
		return nil, errorf(t.Repo.String(), err)
	}
	sha, err := gh.BranchHead(ctx, t.Repo, info.DefaultBranch)
	if err != nil {
		return nil, errorf(t.Repo.String(), err)
	}
	t.Commit, t.Branch, t.RepoURLs = sha, info.DefaultBranch, []string{info.HTMLURL, info.CloneURL, info.SSHURL}
	return a.Sync(ctx, gh, t, progress)
}

// Progress receives one call per app as a sync goes (nil: none).
type Progress func(done, total int, o Outcome)

// Sync brings the apps of t at t.Commit to their clusters: one tarball
// download shared by every app, then for each affected app render, apply,
// prune, health, record and report. It returns one Outcome per app
// considered. An error means the sync could not run at all (the tarball,
// the configuration); a failing app is an Outcome, not an error.
func (a *Applier) Sync(ctx context.Context, gh GitHub, t Target, progress Progress) ([]Outcome, error) {
	dir, err := fetchCheckout(ctx, gh, t.Repo, t.Commit)
	if errors.Is(err, checkout.ErrTooLarge) {
		a.reportCheckoutError(ctx, gh, t, err)
	}
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	repo, err := render.LoadDirWith(ctx, dir, gitops.LoadOptions{RepoURLs: t.RepoURLs, Clusters: a.clusters.ForGenerator(t.Repo.String())},
		kustomize.RenderOptions{Class: kustomize.ClassApply})
	if err != nil {
		// A broken .promobot.yaml fails every app's status: nothing applies.
		a.reportConfigError(ctx, gh, t, err)
		return nil, events.Permanent(errorf(t.Repo.String()+"@"+markdown.ShortSHA(t.Commit), err))
	}
	for _, n := range repo.Notes {
		a.log.Info("app skipped", "repo", t.Repo.String(), "note", n.String())
	}
	tracking, pinned, err := appsToSync(dir, repo, t)
	if err != nil {
		return nil, errorf(t.Repo.String(), err)
	}
	sources, cleanup := a.pinnedSources(ctx, gh, t, repo, pinned)
	defer cleanup()
	for _, app := range tracking {
		sources[app.Name] = source{repo: repo, commit: t.Commit}
	}
	apps := append(tracking, pinned...)
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	if len(apps) == 0 {
		return nil, nil
	}
	report := a.startSyncReport(ctx, gh, t, len(apps), repo.Config)
	outs := a.syncAll(ctx, gh, t, apps, sources, progress)
	report.finish(ctx, outs)
	return outs, nil
}

// syncAll syncs apps, each from its source. Apps are independent (each
// holds its own lease), so they sync side by side; outcomes keep the
// apps' order.
func (a *Applier) syncAll(ctx context.Context, gh GitHub, t Target, apps []gitops.App, sources map[string]source, progress Progress) []Outcome {
	outs := make([]Outcome, len(apps))
	var mu sync.Mutex
	done := 0
	sem := make(chan struct{}, a.opts.SyncConcurrency)
	var wg sync.WaitGroup
	for i, app := range apps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			o := a.syncApp(ctx, gh, t, sources[app.Name], app)
			mu.Lock()
			defer mu.Unlock()
			outs[i] = o
			done++
			if progress != nil {
				progress(done, len(apps), o)
			}
		}()
	}
	wg.Wait()
	return outs
}

// appsToSync returns the apps of repo (checked out in dir at t.Commit)
// that t syncs: those that follow the default branch and whose files t
// changed, and those pinned to another revision whose Application t
// changed (a pinned app's environment moves only with its pin, not with
// the branch it is pinned away from).
func appsToSync(dir string, repo *gitops.Repository, t Target) (tracking, pinned []gitops.App, err error) {
	tracking, pinned = splitPinned(repo.Apps, t.Branch)
	if t.Changed != nil {
		tracking, err = gitops.Affected(tracking, t.Changed, func(path string) ([]string, error) {
			return kustomize.Dependencies(dir, path)
		})
		if err != nil {
			return nil, nil, err
		}
		pinned = manifestChanged(pinned, t.Changed)
	}
	return filterApps(tracking, t), filterApps(pinned, t), nil
}

func filterApps(apps []gitops.App, t Target) []gitops.App {
	if len(t.Apps) == 0 && t.Cluster == "" {
		return apps
	}
	var out []gitops.App
	for _, a := range apps {
		if len(t.Apps) > 0 && !contains(t.Apps, a.Name) {
			continue
		}
		if t.Cluster != "" && a.Server != t.Cluster && a.DestName != t.Cluster {
			continue
		}
		out = append(out, a)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// handleSync applies a repository's apps (or the one named) again at the
// head of its default branch, as /sync asked; it returns the commit
// synced (what the ledger records).
func (a *Applier) handleSync(ctx context.Context, d events.Delivery) (string, error) {
	f, err := state.DecodeSyncFact(d.Event)
	if err != nil {
		return "", events.Permanent(err)
	}
	owner, name, ok := strings.Cut(f.Repo, "/")
	if !ok {
		return "", events.Permanent(fmt.Errorf("sync request %s: repository %q", d.Event.ID(), f.Repo))
	}
	repo := Repo{Owner: owner, Name: name}
	ri, err := a.registry.Repo(ctx, owner, name)
	if errors.Is(err, state.ErrNotInstalled) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	gh, err := a.gh.GitHub(ctx, ri.InstallationID)
	if err != nil {
		return "", errorf(repo.String(), err)
	}
	t := Target{Repo: repo}
	if f.App != "" {
		t.Apps = []string{f.App}
	}
	events.Logger(ctx).Info("sync requested", "repo", repo.String(), "app", f.App, "by", f.By)
	outs, err := a.SyncHead(ctx, gh, t, nil)
	if err != nil || len(outs) == 0 {
		return "", err
	}
	return outs[0].Commit, nil
}
