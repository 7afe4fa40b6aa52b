package gitops

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/promobot/promobot/internal/appset"
	"github.com/promobot/promobot/internal/checkout"
)

// Repository is a checkout of a GitOps repository with its configuration
// and apps read.
type Repository struct {
	// Root is the checkout's directory.
	Root string
	// Config is .promobot.yaml, or DefaultConfig() when there is none.
	Config *Config
	// HasConfig says whether the checkout has a .promobot.yaml.
	HasConfig bool
	// Apps are the deployable apps, sorted by name.
	Apps []App
	// Notes say what was skipped and why.
	Notes []Note
}

// LoadDir reads the checkout at root: its .promobot.yaml (strictly; an
// invalid one is an error) and its Application manifests. repoURLs are the
// repository's own URLs (see DiscoverOptions.RepoURLs); empty accepts any.
// Everything is read through the checkout's os.Root (checkout.Open): a
// .promobot.yaml or a manifest that is a symbolic link out of the repository
// is an error naming it.
func LoadDir(root string, repoURLs []string) (*Repository, error) {
	return LoadDirWith(root, LoadOptions{RepoURLs: repoURLs})
}

// LoadOptions tune LoadDirWith.
type LoadOptions struct {
	// RepoURLs are the repository's own URLs (see DiscoverOptions.RepoURLs).
	RepoURLs []string
	// Render renders App of Apps roots that are not plain manifests (see
	// DiscoverOptions.Render); nil reads the apps directory as plain
	// manifests.
	Render RenderFunc
	// Clusters are the operator's clusters the repository may deploy to,
	// for ApplicationSets' cluster generator (see DiscoverOptions.Clusters).
	Clusters []appset.Cluster
}

// LoadDirWith is LoadDir with options.
func LoadDirWith(root string, opts LoadOptions) (*Repository, error) {
	repo, err := checkout.Open(root)
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	return load(repo, root, opts)
}

// Load is LoadDir for an open checkout; the Repository's Root is root.
func Load(repo *checkout.Repo, root string, repoURLs []string) (*Repository, error) {
	return load(repo, root, LoadOptions{RepoURLs: repoURLs})
}

func load(repo *checkout.Repo, root string, opts LoadOptions) (*Repository, error) {
	r := &Repository{Root: root, Config: DefaultConfig()}
	raw, err := repo.ReadFile(ConfigFile)
	switch {
	case errors.Is(err, checkout.ErrOutsideRepository):
		return nil, err
	case err == nil:
		cfg, err := ParseConfig(raw)
		if err != nil {
			return nil, err
		}
		r.Config, r.HasConfig = cfg, true
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("%s read: %w", ConfigFile, err)
	}
	apps, notes, err := DiscoverApps(repo.FS(), DiscoverOptions{RepoURLs: opts.RepoURLs, Config: r.Config, Render: opts.Render, Clusters: opts.Clusters})
	if err != nil {
		return nil, err
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	r.Apps, r.Notes = apps, notes
	return r, nil
}

// App returns the app named name.
func (r *Repository) App(name string) (App, bool) {
	for _, a := range r.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return App{}, false
}

// AppNames lists the apps' names.
func (r *Repository) AppNames() []string {
	out := make([]string, len(r.Apps))
	for i, a := range r.Apps {
		out[i] = a.Name
	}
	return out
}
