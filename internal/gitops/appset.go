package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/promobot/promobot/internal/appset"
)

// setsTimeout bounds the generation of all the ApplicationSets of one
// discovery, so that many sets, each within its own limits, cannot hold a
// discovery for long either.
// A variable for tests.
var setsTimeout = 30 * time.Second

// setGenerator generates the Applications of the ApplicationSet document n
// of file.
type setGenerator func(file string, n *yaml.Node) ([]found, []Note)

// setEnv is what the ApplicationSets of fsys read: the repository itself
// (the commit discovery reads, so a push that adds a directory adds the
// app a git directories generator makes of it), its URLs and the
// operator's clusters.
func setEnv(fsys fs.FS, opts DiscoverOptions) appset.Env {
	env := appset.Env{Files: fsys, Clusters: opts.Clusters}
	if len(opts.RepoURLs) > 0 {
		repos := map[string]bool{}
		for _, u := range opts.RepoURLs {
			repos[NormalizeRepoURL(u)] = true
		}
		env.SameRepo = func(u string) bool { return repos[NormalizeRepoURL(u)] }
	}
	return env
}

// generateSet generates the Applications of an ApplicationSet and reads
// each as an Application manifest of file, so that each is an app like any
// other. A set that does not generate is a note naming it, never an error
// of discovery.
func (w *manifestWalk) generateSet(file string, n *yaml.Node) ([]found, []Note) {
	data, err := yaml.Marshal(n)
	if err != nil {
		return nil, []Note{{Kind: NoteInvalid, File: file, Message: "invalid ApplicationSet: " + err.Error()}}
	}
	var head struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	_ = n.Decode(&head) // a type mismatch leaves the name empty
	name := head.Metadata.Name
	if err := CheckAppName(name); err != nil {
		// The name is not repeated raw: notes reach logs, statuses and
		// comments.
		return nil, []Note{{Kind: NoteInvalid, File: file, Message: "ApplicationSet not generated: " + err.Error()}}
	}
	if w.setsDeadline.IsZero() {
		w.setsDeadline = time.Now().Add(setsTimeout)
	}
	ctx, cancel := context.WithDeadline(context.Background(), w.setsDeadline)
	defer cancel()
	set, err := appset.Generate(ctx, file, data, w.sets)
	if err != nil {
		return nil, []Note{{Kind: NoteInvalid, File: file, App: name, Message: fmt.Sprintf("ApplicationSet not generated: the repository's ApplicationSets took longer than %s together", setsTimeout)}}
	}
	var apps []found
	var notes []Note
	for _, sn := range set.Notes {
		notes = append(notes, Note{Kind: NoteKind(sn.Kind), File: file, App: name, Message: sn.Message})
	}
	for _, g := range set.Apps {
		var doc yaml.Node
		if err := yaml.Unmarshal(g.Manifest, &doc); err != nil {
			notes = append(notes, Note{Kind: NoteInvalid, File: g.File, Message: "generated Application: " + err.Error()})
			continue
		}
		f, note := appFromNode(g.File, &doc)
		if note != nil {
			notes = append(notes, *note)
			continue
		}
		f.app.File, f.app.Set, f.app.SetReads = file, set.Name, set.Reads
		apps = append(apps, f)
	}
	return apps, notes
}

// holdsSet reports whether data, a manifest file, declares an
// ApplicationSet.
func holdsSet(data []byte) bool {
	if !bytes.Contains(data, []byte("ApplicationSet")) {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var head struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
		}
		err := dec.Decode(&head)
		if errors.Is(err, io.EOF) || (err != nil && !isTypeError(err)) {
			return false
		}
		if strings.HasPrefix(head.APIVersion, "argoproj.io/") && head.Kind == "ApplicationSet" {
			return true
		}
	}
}

func isTypeError(err error) bool {
	var te *yaml.TypeError
	return errors.As(err, &te)
}
