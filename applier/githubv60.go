package applier

import (
	"context"
	"fmt"
	"io"
	"net/http"

	gh "github.com/google/go-github/v60/github"
)

// NewGitHub returns the applier's GitHub API over an installation's
// go-github client (authenticated, retrying and rate-limit aware: the
// caller configures its transport).
func NewGitHub(c *gh.Client) GitHub { return &githubV60{c: c} }

type githubV60 struct{ c *gh.Client }

func (g *githubV60) Repository(ctx context.Context, repo Repo) (RepoInfo, error) {
	r, _, err := g.c.Repositories.Get(ctx, repo.Owner, repo.Name)
	if err != nil {
		return RepoInfo{}, fmt.Errorf("get repository: %w", err)
	}
	return RepoInfo{DefaultBranch: r.GetDefaultBranch(), URLs: []string{r.GetHTMLURL(), r.GetCloneURL(), r.GetSSHURL()}}, nil
}

func (g *githubV60) BranchHead(ctx context.Context, repo Repo, branch string) (string, error) {
	ref, _, err := g.c.Git.GetRef(ctx, repo.Owner, repo.Name, "heads/"+branch)
	if err != nil {
		return "", fmt.Errorf("get branch %s: %w", branch, err)
	}
	return ref.GetObject().GetSHA(), nil
}

func (g *githubV60) Tarball(ctx context.Context, repo Repo, ref string) (io.ReadCloser, error) {
	u, _, err := g.c.Repositories.GetArchiveLink(ctx, repo.Owner, repo.Name, gh.Tarball, &gh.RepositoryContentGetOptions{Ref: ref}, 0)
	if err != nil {
		return nil, fmt.Errorf("tarball link: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := g.c.Client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("tarball download: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("tarball download: %s", resp.Status)
	}
	return resp.Body, nil
}

func (g *githubV60) Compare(ctx context.Context, repo Repo, base, head string) (Comparison, error) {
	var out Comparison
	opts := &gh.ListOptions{PerPage: 100}
	for {
		cmp, resp, err := g.c.Repositories.CompareCommits(ctx, repo.Owner, repo.Name, base, head, opts)
		if err != nil {
			return out, fmt.Errorf("compare %s...%s: %w", short(base), short(head), err)
		}
		out.Status = cmp.GetStatus()
		for _, f := range cmp.Files {
			out.Files = append(out.Files, f.GetFilename())
			if prev := f.GetPreviousFilename(); prev != "" {
				out.Files = append(out.Files, prev)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func (g *githubV60) CreateStatus(ctx context.Context, repo Repo, sha string, s Status) error {
	st := &gh.RepoStatus{State: gh.String(s.State), Context: gh.String(s.Context), Description: gh.String(s.Description)}
	if s.TargetURL != "" {
		st.TargetURL = gh.String(s.TargetURL)
	}
	if _, _, err := g.c.Repositories.CreateStatus(ctx, repo.Owner, repo.Name, sha, st); err != nil {
		return fmt.Errorf("create status %s: %w", s.Context, err)
	}
	return nil
}

func (g *githubV60) CreateDeployment(ctx context.Context, repo Repo, d Deployment) (int64, error) {
	req := &gh.DeploymentRequest{
		Ref: gh.String(d.Ref), Environment: gh.String(d.Environment), Description: gh.String(d.Description),
		AutoMerge: gh.Bool(false), RequiredContexts: &[]string{}, Payload: d.Payload,
		ProductionEnvironment: gh.Bool(d.Production), Task: gh.String("deploy"),
	}
	dep, _, err := g.c.Repositories.CreateDeployment(ctx, repo.Owner, repo.Name, req)
	if err != nil {
		return 0, fmt.Errorf("create deployment to %s: %w", d.Environment, err)
	}
	return dep.GetID(), nil
}

func (g *githubV60) CreateDeploymentStatus(ctx context.Context, repo Repo, id int64, s DeploymentStatus) error {
	req := &gh.DeploymentStatusRequest{State: gh.String(s.State), Description: gh.String(s.Description), Environment: gh.String(s.Environment)}
	if _, _, err := g.c.Repositories.CreateDeploymentStatus(ctx, repo.Owner, repo.Name, id, req); err != nil {
		return fmt.Errorf("deployment %d status %s: %w", id, s.State, err)
	}
	return nil
}
