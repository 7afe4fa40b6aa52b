package story

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/promobot/promobot/test/browser"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
)

const (
	api          = "my-api-service"
	imageRepo    = "ghcr.io/my-org/my-api-service"
	stagingApp   = "my-api-service-staging"
	stagingFile  = "kustomize/overlays/staging/kustomization.yaml"
	prodFile     = "kustomize/overlays/production/kustomization.yaml"
	oldTag       = "1.0.0"
	newTag       = "1.1.0"
	promoBranchP = "promobot/promote/"
)

// Timeout bounds the wait for each step's outcome.
var Timeout = 90 * time.Second

// Result says what the story saw; the story test asserts on it.
type Result struct {
	StagingReplicas, ProductionReplicas int32
	StagingPR, PromotionPR              int
	MergeCommit                         string
	StatusState                         string
	DeploymentStates                    []string
	PromotionFiles                      []string
	PromotionLabels                     []string
	RefusalReply                        string
	ProductionImage                     string
}

// Play runs the five steps of the story, printing each as a user would see
// it, and returns an error at the first outcome that does not hold.
func Play(ctx context.Context, e *Env, out io.Writer) (*Result, error) {
	res := &Result{}
	gh := e.GitHub
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	heading := func(n int, title string) { say("\n── %d. %s ──", n, title) }

	heading(1, "The App is installed on my-org/cluster-config: promobot syncs every app")
	if _, err := gh.Install(ctx, Owner, Repo); err != nil {
		return res, err
	}
	stg, err := waitDeployment(ctx, e, "staging", func(d *appsv1.Deployment) bool {
		return replicas(d) == 1 && image(d) == imageRepo+":"+oldTag
	})
	if err != nil {
		return res, fmt.Errorf("step 1: staging not synced: %w", err)
	}
	prod, err := waitDeployment(ctx, e, "production", func(d *appsv1.Deployment) bool {
		return replicas(d) == 10 && image(d) == imageRepo+":"+oldTag
	})
	if err != nil {
		return res, fmt.Errorf("step 1: production not synced: %w", err)
	}
	res.StagingReplicas, res.ProductionReplicas = replicas(stg), replicas(prod)
	say("   staging/%s     replicas %-2d image %s", api, replicas(stg), image(stg))
	say("   production/%s  replicas %-2d image %s", api, replicas(prod), image(prod))

	heading(2, "A developer opens a PR changing the staging image: promobot comments the rendered diff")
	overlay, err := gh.File(ctx, Owner, Repo, "main", stagingFile)
	if err != nil {
		return res, err
	}
	bumped := strings.Replace(string(overlay), "newTag: "+oldTag, "newTag: "+newTag, 1)
	if _, err := gh.Push(ctx, Owner, Repo, "bump-staging", githubapi.Commit{Message: "Bump my-api-service in staging to " + newTag, Author: Developer, Files: map[string]string{stagingFile: bumped}, From: "main"}); err != nil {
		return res, err
	}
	pr, err := gh.OpenPR(ctx, Owner, Repo, githubapi.NewPR{Title: "Bump my-api-service in staging to " + newTag, Head: "bump-staging", Author: Developer})
	if err != nil {
		return res, err
	}
	res.StagingPR = pr
	say("   %s opened PR #%d %q", Developer, pr, "Bump my-api-service in staging to "+newTag)
	diff, err := waitComment(ctx, gh, pr, func(c githubapi.IssueComment) bool {
		return c.Bot && strings.Contains(c.Body, "<!-- promobot:diff")
	})
	if err != nil {
		return res, fmt.Errorf("step 2: no rendered-diff comment on PR #%d: %w", pr, err)
	}
	if !strings.Contains(diff.Body, newTag) {
		return res, fmt.Errorf("step 2: the diff comment does not show %s", newTag)
	}
	say("   %s commented on PR #%d:\n%s", diff.Author, pr, indent(diff.Body, "   │ "))

	heading(3, "The PR is merged: staging is applied")
	sha, err := gh.MergePR(ctx, Owner, Repo, pr, Maintainer, "merge")
	if err != nil {
		return res, err
	}
	res.MergeCommit = sha
	st, err := waitStatus(ctx, gh, sha, "promobot/"+stagingApp)
	if err != nil {
		return res, fmt.Errorf("step 3: %w", err)
	}
	res.StatusState = st.State
	if st.State != "success" {
		return res, fmt.Errorf("step 3: status promobot/%s is %s: %s", stagingApp, st.State, st.Description)
	}
	say("   commit %s check run promobot/sync: %s %s  %q", sha[:7], stagingApp, st.State, st.Description)
	var dep githubapi.Deployment
	if err := poll(ctx, "GitHub Deployment of "+sha[:7], func() (bool, error) {
		deps, err := gh.Deployments(Owner, Repo)
		for _, d := range deps {
			if d.SHA == sha && len(d.Statuses) > 0 && d.Statuses[len(d.Statuses)-1].State != "in_progress" {
				dep = d
				return true, nil
			}
		}
		return false, err
	}); err == nil {
		for _, s := range dep.Statuses {
			res.DeploymentStates = append(res.DeploymentStates, s.State)
		}
		say("   GitHub Deployment #%d to %q at %s: %s", dep.ID, dep.Environment, sha[:7], strings.Join(res.DeploymentStates, " → "))
	}
	if len(res.DeploymentStates) == 0 {
		return res, fmt.Errorf("step 3: no finished GitHub Deployment for %s", sha[:7])
	}
	if stg, err = waitDeployment(ctx, e, "staging", func(d *appsv1.Deployment) bool { return image(d) == imageRepo+":"+newTag }); err != nil {
		return res, fmt.Errorf("step 3: staging does not run %s: %w", newTag, err)
	}
	say("   staging/%s     replicas %-2d image %s", api, replicas(stg), image(stg))

	heading(4, "A maintainer comments /promote: promobot opens the promotion PR")
	if _, err := gh.Comment(ctx, Owner, Repo, pr, Maintainer, "/promote"); err != nil {
		return res, err
	}
	say("   %s commented on PR #%d: /promote", Maintainer, pr)
	promo, err := waitPR(ctx, gh, func(p githubapi.PullRequest) bool {
		return strings.HasPrefix(p.Head, promoBranchP) && p.State == "open" && hasLabel(p.Labels, "promotion")
	})
	if err != nil {
		return res, fmt.Errorf("step 4: no promotion PR: %w", err)
	}
	res.PromotionPR = promo.Number
	res.PromotionLabels = promo.Labels
	files, err := changedFiles(ctx, gh, promo)
	if err != nil {
		return res, err
	}
	res.PromotionFiles = files
	if len(files) != 1 || files[0] != prodFile {
		return res, fmt.Errorf("step 4: the promotion PR changes %v, want only %s", files, prodFile)
	}
	say("   PR #%d %q (branch %s, labels %s)", promo.Number, promo.Title, promo.Head, strings.Join(promo.Labels, ", "))
	say(indent(promo.Body, "   │ "))
	pdiff, err := waitComment(ctx, gh, promo.Number, func(c githubapi.IssueComment) bool {
		return c.Bot && strings.Contains(c.Body, "<!-- promobot:diff")
	})
	if err != nil {
		return res, fmt.Errorf("step 4: no diff comment on the promotion PR: %w", err)
	}
	say("   %s commented on PR #%d:\n%s", pdiff.Author, promo.Number, indent(pdiff.Body, "   │ "))

	say("\n   and when %s (read access) comments /promote:", Reader)
	before, _ := gh.Comments(Owner, Repo, pr)
	if _, err := gh.Comment(ctx, Owner, Repo, pr, Reader, "/promote"); err != nil {
		return res, err
	}
	refusal, err := waitComment(ctx, gh, pr, func(c githubapi.IssueComment) bool {
		return c.Bot && !seen(before, c.ID) && strings.Contains(c.Body, Reader)
	})
	if err != nil {
		return res, fmt.Errorf("step 4: no refusal reply to %s: %w", Reader, err)
	}
	res.RefusalReply = refusal.Body
	say("   %s replied:\n%s", refusal.Author, indent(refusal.Body, "   │ "))
	prs, _ := gh.PRs(Owner, Repo)
	promotions := 0
	for _, p := range prs {
		if strings.HasPrefix(p.Head, promoBranchP) {
			promotions++
		}
	}
	if promotions != 1 {
		return res, fmt.Errorf("step 4: %d promotion PRs after the refused command, want 1", promotions)
	}

	heading(5, "The promotion PR is merged: production runs the new image")
	psha, err := gh.MergePR(ctx, Owner, Repo, promo.Number, Maintainer, "merge")
	if err != nil {
		return res, err
	}
	if pst, err := waitStatus(ctx, gh, psha, "promobot/my-api-service-production"); err != nil || pst.State != "success" {
		return res, fmt.Errorf("step 5: production status: %v %+v", err, pst)
	}
	prod, err = waitDeployment(ctx, e, "production", func(d *appsv1.Deployment) bool {
		return image(d) == imageRepo+":"+newTag && replicas(d) == 10
	})
	if err != nil {
		return res, fmt.Errorf("step 5: production does not run %s: %w", newTag, err)
	}
	res.ProductionImage = image(prod)
	say("   $ kubectl get deployment -n production %s", api)
	say("   production/%s  replicas %-2d image %s  (ready %d/%d)", api, replicas(prod), image(prod), prod.Status.ReadyReplicas, replicas(prod))
	if e.opts.Screenshot != "" {
		if err := e.screenshot(ctx, psha); err != nil {
			return res, fmt.Errorf("status page: %w", err)
		}
		say("\n   promobot's status page: %s (screenshot %s)", e.UIURL, e.opts.Screenshot)
	}
	return res, nil
}

// screenshot writes a PNG of the status page, once it shows production
// at commit, to Options.Screenshot.
func (e *Env) screenshot(ctx context.Context, commit string) error {
	ready := fmt.Sprintf(`!!document.querySelector('td[data-app="my-api-service-production"][data-commit=%q]')`, commit)
	png, err := browser.Screenshot(ctx, e.UIURL, ready, Timeout)
	if err != nil {
		return err
	}
	return os.WriteFile(e.opts.Screenshot, png, 0o644)
}

func hasLabel(labels []string, want string) bool {
	for _, l := range labels {
		if l == want {
			return true
		}
	}
	return false
}

func seen(list []githubapi.IssueComment, id int64) bool {
	for _, c := range list {
		if c.ID == id {
			return true
		}
	}
	return false
}

func replicas(d *appsv1.Deployment) int32 {
	if d == nil || d.Spec.Replicas == nil {
		return -1
	}
	return *d.Spec.Replicas
}

func image(d *appsv1.Deployment) string {
	if d == nil || len(d.Spec.Template.Spec.Containers) == 0 {
		return ""
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// poll calls fn until it reports done, ctx ends or Timeout passes.
func poll(ctx context.Context, what string, fn func() (bool, error)) error {
	deadline := time.Now().Add(Timeout)
	var last error
	for {
		ok, err := fn()
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("%s: %w", what, last)
			}
			return fmt.Errorf("%s: timed out after %s", what, Timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
	}
}

func waitDeployment(ctx context.Context, e *Env, ns string, cond func(*appsv1.Deployment) bool) (*appsv1.Deployment, error) {
	var d *appsv1.Deployment
	err := poll(ctx, "Deployment "+ns+"/"+api, func() (bool, error) {
		var err error
		d, err = e.Cluster.Client.AppsV1().Deployments(ns).Get(ctx, api, metav1.GetOptions{})
		return err == nil && cond(d), err
	})
	return d, err
}

func waitComment(ctx context.Context, gh *githubapi.Server, pr int, match func(githubapi.IssueComment) bool) (githubapi.IssueComment, error) {
	var got githubapi.IssueComment
	err := poll(ctx, fmt.Sprintf("comment on #%d", pr), func() (bool, error) {
		cs, err := gh.Comments(Owner, Repo, pr)
		for _, c := range cs {
			if match(c) {
				got = c
				return true, nil
			}
		}
		return false, err
	})
	return got, err
}

// waitStatus waits for the sync check run on sha to report the app of
// context ("promobot/<app>"), in the shape of a commit status.
func waitStatus(ctx context.Context, gh *githubapi.Server, sha, context string) (githubapi.Status, error) {
	var got githubapi.Status
	err := poll(ctx, "sync check run for "+context+" on "+sha[:7], func() (bool, error) {
		runs, err := gh.CheckRuns(Owner, Repo, sha)
		st, ok := kit.SyncStatus(runs, strings.TrimPrefix(context, "promobot/"))
		got = st
		return ok, err
	})
	return got, err
}

func waitPR(ctx context.Context, gh *githubapi.Server, match func(githubapi.PullRequest) bool) (githubapi.PullRequest, error) {
	var got githubapi.PullRequest
	err := poll(ctx, "pull request", func() (bool, error) {
		prs, err := gh.PRs(Owner, Repo)
		for _, p := range prs {
			if match(p) {
				got = p
				return true, nil
			}
		}
		return false, err
	})
	return got, err
}

// changedFiles lists the files a PR changes, comparing its head with its
// base through the local repository.
func changedFiles(ctx context.Context, gh *githubapi.Server, p githubapi.PullRequest) ([]string, error) {
	return gitDiffNames(ctx, gh.RepoPath(Owner, Repo), p.BaseSHA, p.HeadSHA)
}
