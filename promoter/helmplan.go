package promoter

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/helm"
	"github.com/promobot/promobot/internal/kustomize"
)

// Helm apps promote their images through their values files, by the
// conventions of Helm charts: an "image" mapping with "repository" and
// "tag" keys, at the top of the values or under a component
// ("api.image.tag"). The target's images are what its values say after
// every file it reads (the chart's values.yaml, then its valueFiles in
// order); a promotion sets each tag (and repository) the source's values
// end with in the last of the target's own value files that sets it, or,
// for a value none of them sets, in the last of them, byte-exactly.

// helmSource returns app's Helm source, if it renders one.
func helmSource(app gitops.App) (gitops.Source, bool) {
	for _, s := range app.Rendered() {
		if s.Kind == gitops.SourceHelm {
			return s, true
		}
	}
	return gitops.Source{}, false
}

// helmValues are the values files one Helm app reads, in order, with their
// content; own are those of its valueFiles (not the chart's values.yaml,
// which every environment shares).
type helmValues struct {
	files   []string
	content map[string][]byte
	own     []string
}

// readHelmValues reads app's values files from repo; missing value files
// are skipped as ignoreMissingValueFiles would, since the render reports
// them.
func readHelmValues(repo *checkout.Repo, app gitops.App, src gitops.Source) (helmValues, error) {
	v := helmValues{content: map[string][]byte{}}
	add := func(file string, own bool) error {
		raw, err := repo.ReadFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s (%s): %w", app.Name, file, err)
		}
		v.files, v.content[file] = append(v.files, file), raw
		if own {
			v.own = append(v.own, file)
		}
		return nil
	}
	if err := add(path.Join(src.Path, "values.yaml"), false); err != nil {
		return v, err
	}
	if src.Helm != nil {
		for _, vf := range src.Helm.ValueFiles {
			file, err := app.ValueFile(src, vf)
			if err != nil {
				return v, fmt.Errorf("%s: %w", app.Name, err)
			}
			if err := add(file, true); err != nil {
				return v, err
			}
		}
	}
	return v, nil
}

// images returns the image values the files end with (path → value) and,
// for each, the last file setting it.
func (v helmValues) images() (values, setIn map[string]string) {
	values, setIn = map[string]string{}, map[string]string{}
	for _, f := range v.files {
		for _, p := range helm.ImagePaths(v.content[f]) {
			if val, ok, err := helm.GetValue(v.content[f], p); err == nil && ok {
				values[p], setIn[p] = val, f
			}
		}
	}
	return values, setIn
}

// PlanHelm plans promoting the images of a Helm pair: the source app's
// image values (read from sourceRoot, at the commit promoted) set in the
// target's own value files (read from targetRoot).
func PlanHelm(step gitops.Step, pair gitops.Pair, sourceRoot, targetRoot string) (Plan, error) {
	p := Plan{App: pair.Base, Step: step, Pair: pair, Strategy: gitops.StrategyImages}
	fromSrc, ok1 := helmSource(pair.From)
	toSrc, ok2 := helmSource(pair.To)
	if !ok1 || !ok2 {
		return p, fmt.Errorf("%s → %s: both apps must render a Helm chart to promote Helm values", pair.From.Name, pair.To.Name)
	}
	from, err := readHelm(sourceRoot, pair.From, fromSrc)
	if err != nil {
		return p, err
	}
	to, err := readHelm(targetRoot, pair.To, toSrc)
	if err != nil {
		return p, err
	}
	srcVals, _ := from.images()
	if len(srcVals) == 0 {
		return p, fmt.Errorf("%s (%s): %w", pair.From.Name, fromSrc.Path, ErrNoImages)
	}
	tgtVals, setIn := to.images()
	edits := map[string][]byte{}
	paths := slices.Sorted(maps.Keys(srcVals))
	for _, vp := range paths {
		if tgtVals[vp] == srcVals[vp] {
			continue
		}
		file := setIn[vp]
		if !slices.Contains(to.own, file) {
			if len(to.own) == 0 {
				return p, fmt.Errorf("%s: no values file of its own to set %s in (add one to its helm.valueFiles)", pair.To.Name, vp)
			}
			file = to.own[len(to.own)-1]
		}
		cur, ok := edits[file]
		if !ok {
			cur = to.content[file]
		}
		if edits[file], err = helm.SetValue(cur, vp, srcVals[vp]); err != nil {
			return p, fmt.Errorf("%s: %w", file, err)
		}
	}
	p.Images, p.Changes = helmImages(paths, srcVals, tgtVals)
	for _, f := range to.own {
		after, ok := edits[f]
		if !ok {
			continue
		}
		if p.File == "" {
			p.File, p.Before, p.After = f, to.content[f], after
			continue
		}
		p.Carried = append(p.Carried, FileEdit{Path: f, Before: to.content[f], After: after})
	}
	if p.File == "" && len(to.own) > 0 {
		// Nothing to change: the plan still names the file it would edit.
		f := to.own[len(to.own)-1]
		p.File, p.Before, p.After = f, to.content[f], to.content[f]
	}
	return p, nil
}

func readHelm(root string, app gitops.App, src gitops.Source) (helmValues, error) {
	repo, err := checkout.Open(root)
	if err != nil {
		return helmValues{}, err
	}
	defer repo.Close()
	return readHelmValues(repo, app, src)
}

// helmImages describes the image values as kustomize images entries (the
// repository as the name, the tag as newTag), for the pull request's
// title and table: what the source sets, and what changes.
func helmImages(paths []string, src, tgt map[string]string) ([]kustomize.Image, []kustomize.ImageChange) {
	var imgs []kustomize.Image
	var changes []kustomize.ImageChange
	for _, vp := range paths {
		prefix, ok := strings.CutSuffix(vp, ".tag")
		if !ok {
			continue
		}
		name := src[prefix+".repository"]
		if name == "" {
			name = prefix
		}
		img := kustomize.Image{Name: name, NewTag: src[vp]}
		imgs = append(imgs, img)
		if tgt[vp] != src[vp] || tgt[prefix+".repository"] != src[prefix+".repository"] {
			oldName := tgt[prefix+".repository"]
			if oldName == "" {
				oldName = name
			}
			changes = append(changes, kustomize.ImageChange{Name: name, From: kustomize.Image{Name: oldName, NewTag: tgt[vp]}, To: img})
		}
	}
	return imgs, changes
}
