// Package appset generates the Applications of an Argo CD ApplicationSet, as
// Argo CD's ApplicationSet controller does, from what promobot holds: the
// repository at the commit it processes and the operator's clusters.
//
// Generators: list, git (directories and files, of this repository only),
// clusters, matrix and merge; templates in the default fasttemplate syntax
// or with goTemplate (text/template and sprig, less the functions that
// reach outside). Generators that read other systems (scmProvider,
// pullRequest, clusterDecisionResource, plugin) and templatePatch are
// refused with a note. Everything an ApplicationSet holds is hostile input:
// generation is bounded in apps, output, work and time (Limits), git paths
// stay inside the repository, and nothing is read but the repository's
// files.
//
// appset does not import gitops, which imports it: what it needs of the
// repository model comes through Env.
package appset

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Cluster is one of the operator's clusters, as the cluster generator sees
// it.
type Cluster struct {
	// Name and Server are the cluster's name and API server URL.
	Name   string
	Server string
	// Labels and Annotations are matched by the generator's selector and
	// become metadata.labels.<k> and metadata.annotations.<k> params.
	Labels      map[string]string
	Annotations map[string]string
}

// InCluster is the cluster promobot runs in, named as Argo CD names the
// cluster it runs in.
var InCluster = Cluster{Name: "in-cluster", Server: "https://kubernetes.default.svc"}

// Env is what generators read.
type Env struct {
	// Files is the repository at the commit being processed, rooted at the
	// repository (paths relative, read-only). The git generators read it;
	// nil refuses them.
	Files fs.FS
	// SameRepo reports whether a git generator's repoURL is this
	// repository; a generator of another repository is refused with a
	// note. Nil accepts every repoURL.
	SameRepo func(repoURL string) bool
	// Revisions are the git generator revisions that name the commit Files
	// holds, besides "" and "HEAD" (the default branch's name). Nil means
	// "main" and "master". Another revision (a tag, a commit, another
	// branch) is refused with a note: discovery reads one commit.
	Revisions []string
	// Clusters are the operator's clusters for the cluster generator. Nil
	// means InCluster alone.
	Clusters []Cluster
	// Limits bound the generation; zero fields take DefaultLimits' values.
	Limits Limits
}

// Limits bound what one ApplicationSet may make promobot do.
type Limits struct {
	// MaxApps is the most Applications a set may generate.
	MaxApps int
	// MaxValueBytes is the longest a string of a template may be, before
	// and after rendering.
	MaxValueBytes int
	// MaxOutputBytes bounds the generated manifests of a set, together.
	MaxOutputBytes int
	// MaxFileBytes is the largest file a git files generator reads.
	MaxFileBytes int64
	// MaxWork bounds the work of go templates: every function call costs
	// one unit plus the size of its result (bytes, items).
	MaxWork int
	// Timeout bounds the generation of one set.
	Timeout time.Duration
}

// DefaultLimits returns the limits promobot applies unless told otherwise.
func DefaultLimits() Limits {
	return Limits{
		MaxApps:        1000,
		MaxValueBytes:  1 << 20,
		MaxOutputBytes: 16 << 20,
		MaxFileBytes:   1 << 20,
		MaxWork:        8 << 20,
		Timeout:        10 * time.Second,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxApps <= 0 {
		l.MaxApps = d.MaxApps
	}
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = d.MaxValueBytes
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = d.MaxOutputBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.MaxWork <= 0 {
		l.MaxWork = d.MaxWork
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// NoteKind classifies a Note, with the words of gitops.NoteKind.
type NoteKind string

// Note kinds.
const (
	// NoteInvalid: the set, or one of its generated Applications, could
	// not be generated (a template error, a limit, a bad generator).
	NoteInvalid NoteKind = "invalid"
	// NoteUnsupported: a generator or field promobot does not act on.
	NoteUnsupported NoteKind = "unsupported"
	// NoteForeignRepo: a git generator reading another repository.
	NoteForeignRepo NoteKind = "foreign-repo"
)

// Note says what of a set did not become Applications, and why.
type Note struct {
	Kind NoteKind
	// App is the generated Application's name when the note is about one.
	App string
	// Message says what happened, for a platform engineer.
	Message string
}

// Generated is one Application a set generates.
type Generated struct {
	// Name is the Application's metadata.name.
	Name string
	// File is a stable name for notes: the set's file, "#", the name
	// ("apps/appset.yaml#guestbook-staging").
	File string
	// Manifest is the Application as a YAML document, as if it were a file
	// of the apps directory.
	Manifest []byte
}

// Set is what Generate made of one ApplicationSet.
type Set struct {
	// Name and Namespace are the set's metadata.
	Name      string
	Namespace string
	// Apps are the generated Applications, in the order Argo CD generates
	// them (generators in order, params in order). Empty when the set is
	// refused.
	Apps []Generated
	// Reads are the repository paths the set's git generators read: a
	// change to one of them can change the Applications generated.
	Reads Reads
	// Notes say what was refused and why.
	Notes []Note
}

// refusal is an error refusing the whole set; its message is the note's.
type refusal struct {
	kind NoteKind
	msg  string
}

func (r *refusal) Error() string { return r.msg }

// refuse returns an error refusing the set, with a message for its note.
func refuse(format string, args ...any) error {
	return &refusal{kind: NoteInvalid, msg: fmt.Sprintf(format, args...)}
}

// setManifest is the part of an ApplicationSet promobot reads.
type setManifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Spec struct {
		GoTemplate        bool        `yaml:"goTemplate"`
		GoTemplateOptions []string    `yaml:"goTemplateOptions"`
		Generators        []yaml.Node `yaml:"generators"`
		Template          yaml.Node   `yaml:"template"`
		TemplatePatch     yaml.Node   `yaml:"templatePatch"`
	} `yaml:"spec"`
}

// Generate generates the Applications of set, one ApplicationSet manifest
// (a YAML or JSON document) read from file, with what env gives. A set that
// cannot be generated is refused whole: no Apps and a note saying why, as
// Argo CD generates nothing for a set whose generation fails. A generator
// promobot does not support is left out with a note; the others generate.
// The error is for ctx only. Generate is safe for concurrent use if
// env.Files is.
func Generate(ctx context.Context, file string, set []byte, env Env) (*Set, error) {
	env.Limits = env.Limits.withDefaults()
	var m setManifest
	if err := yaml.Unmarshal(set, &m); err != nil {
		return &Set{Notes: []Note{{Kind: NoteInvalid, Message: "invalid ApplicationSet: " + strings.TrimPrefix(err.Error(), "yaml: ")}}}, nil
	}
	out := &Set{Name: m.Metadata.Name, Namespace: m.Metadata.Namespace}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("applicationset %q generate: %w", m.Metadata.Name, err)
	}
	gctx, cancel := context.WithTimeout(ctx, env.Limits.Timeout)
	defer cancel()
	g := &generation{ctx: gctx, env: env, goTemplate: m.Spec.GoTemplate, reads: &out.Reads}
	apps, notes, err := g.run(file, &m)
	out.Notes = notes
	switch {
	case err == nil:
		out.Apps = apps
	case ctx.Err() != nil:
		return nil, fmt.Errorf("applicationset %q generate: %w", m.Metadata.Name, ctx.Err())
	case gctx.Err() != nil:
		out.Notes = append(out.Notes, Note{Kind: NoteInvalid, Message: fmt.Sprintf("ApplicationSet refused: generating took longer than %s", env.Limits.Timeout)})
	default:
		kind := NoteInvalid
		var r *refusal
		if errors.As(err, &r) {
			kind = r.kind
		}
		out.Notes = append(out.Notes, Note{Kind: kind, Message: "ApplicationSet refused: " + err.Error()})
	}
	return out, nil
}
