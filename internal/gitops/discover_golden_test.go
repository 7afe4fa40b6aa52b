package gitops

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/kustomize"
)

var updateDiscover = flag.Bool("update-discover", false, "rewrite testdata/discover/*/want-*.txt")

// TestDiscoverGolden discovers the repository of each testdata/discover
// case twice, as plain manifests and with roots rendered by the sandboxed
// kustomize renderer, and compares the apps, their sources and the notes
// with want-plain.txt and want-rendered.txt. Run with -update-discover to
// rewrite them.
func TestDiscoverGolden(t *testing.T) {
	cases, err := os.ReadDir("testdata/discover")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		repo := filepath.Join("testdata", "discover", c.Name(), "repo")
		render := func(_ App, src Source) ([]byte, error) {
			if src.Kind != SourceKustomize {
				return nil, fmt.Errorf("%s sources are not rendered in this test", src.Kind)
			}
			return kustomize.Render(context.Background(), repo, src.Path, kustomize.RenderOptions{})
		}
		for _, mode := range []struct {
			name   string
			render RenderFunc
		}{{"plain", nil}, {"rendered", render}} {
			t.Run(c.Name()+"/"+mode.name, func(t *testing.T) {
				apps, notes, err := DiscoverApps(os.DirFS(repo), DiscoverOptions{RepoURLs: []string{"git@github.com:acme/shop.git"}, Render: mode.render})
				if err != nil {
					t.Fatal(err)
				}
				got := describeDiscovery(apps, notes)
				golden := filepath.Join("testdata", "discover", c.Name(), "want-"+mode.name+".txt")
				if *updateDiscover {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(want), got); diff != "" {
					t.Errorf("discovery (-golden +got):\n%s", diff)
				}
			})
		}
	}
}

// describeDiscovery prints apps with their sources, then notes, one per line.
func describeDiscovery(apps []App, notes []Note) string {
	var b strings.Builder
	for _, a := range apps {
		fmt.Fprintf(&b, "app %s env=%s file=%s", a, a.Environment, a.File)
		if a.Root != "" {
			fmt.Fprintf(&b, " root=%s", a.Root)
		}
		b.WriteString("\n")
		for _, s := range a.Sources {
			fmt.Fprintf(&b, "  source %s path=%s", s.Kind, s.Path)
			if s.Ref != "" {
				fmt.Fprintf(&b, " ref=%s", s.Ref)
			}
			if d := s.Directory; d != nil {
				fmt.Fprintf(&b, " recurse=%v include=%q exclude=%q", d.Recurse, d.Include, d.Exclude)
			}
			if h := s.Helm; h != nil {
				fmt.Fprintf(&b, " release=%s valueFiles=%s", h.ReleaseName, strings.Join(h.ValueFiles, ","))
			}
			b.WriteString("\n")
		}
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "note %s %s\n", n.Kind, n)
	}
	return b.String()
}
