package gitops

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
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
func LoadDir(root string, repoURLs []string) (*Repository, error) {
	r := &Repository{Root: root, Config: DefaultConfig()}
	raw, err := os.ReadFile(filepath.Join(root, ConfigFile))
	switch {
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
	apps, notes, err := DiscoverApps(os.DirFS(root), DiscoverOptions{RepoURLs: repoURLs, Config: r.Config})
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
