package gitops

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
)

// Step is one promotion of a pipeline, with the apps it moves.
type Step struct {
	From, To    string
	AutoPromote bool
	// AutoMerge and MergeMethod are the step's PipelineStep.AutoMerge and
	// MergeMethod.
	AutoMerge   bool
	MergeMethod string
	Gates       Gates
	// Strategy and Carry are the step's PipelineStep.Strategy and Carry.
	Strategy string
	Carry    []string
	// Pairs are the apps of From matched with their counterparts in To.
	Pairs []Pair
}

// Pair is an app in a step's source environment and its counterpart in the
// target environment.
type Pair struct {
	// Base is the name the two apps share once the environment is taken off
	// ("my-api" for my-api-staging and my-api-production).
	Base     string
	From, To App
}

// Pipeline returns the promotion steps for apps. With a pipeline in
// .promobot.yaml the steps are those, in order; otherwise (also for a nil
// Config) they are derived: the distinct environments of apps that
// EnvironmentRank knows, in rank order, each promoting to the next, with
// default gates and no auto-promotion.
//
// Apps of neighbouring environments are paired by base name (the app name
// without its "-<env>" suffix or "<env>-" prefix), or else by source path
// with the environment's directory swapped (kustomize/overlays/staging ↔
// kustomize/overlays/production). An app without a counterpart is left out
// of Pairs.
//
// The error reports a configured pipeline naming an environment that no app
// has (usually a typo), listing the environments that exist.
func (c *Config) Pipeline(apps []App) ([]Step, error) {
	byEnv := map[string][]App{}
	for _, a := range apps {
		if a.Environment != "" {
			byEnv[a.Environment] = append(byEnv[a.Environment], a)
		}
	}
	var steps []Step
	if c != nil && len(c.Steps) > 0 {
		for i, ps := range c.Steps {
			for _, env := range []string{ps.From, ps.To} {
				if _, ok := byEnv[env]; !ok && len(apps) > 0 {
					return nil, fmt.Errorf("%s pipeline[%d] %s → %s: no app has environment %q (environments: %s)", ConfigFile, i, ps.From, ps.To, env, strings.Join(slices.Sorted(maps.Keys(byEnv)), ", "))
				}
			}
			steps = append(steps, Step{From: ps.From, To: ps.To, AutoPromote: ps.AutoPromote, AutoMerge: ps.AutoMerge, MergeMethod: ps.MergeMethod, Gates: ps.Gates, Strategy: ps.Strategy, Carry: ps.Carry})
		}
	} else {
		var envs []string
		for env := range byEnv {
			if _, ok := EnvironmentRank(env); ok {
				envs = append(envs, env)
			}
		}
		sort.Slice(envs, func(i, j int) bool {
			ri, _ := EnvironmentRank(envs[i])
			rj, _ := EnvironmentRank(envs[j])
			if ri != rj {
				return ri < rj
			}
			return envs[i] < envs[j]
		})
		for i := 0; i+1 < len(envs); i++ {
			steps = append(steps, Step{From: envs[i], To: envs[i+1]})
		}
	}
	for i := range steps {
		steps[i].Pairs = pairApps(steps[i].From, steps[i].To, byEnv[steps[i].From], byEnv[steps[i].To])
	}
	return steps, nil
}

func pairApps(fromEnv, toEnv string, from, to []App) []Pair {
	var pairs []Pair
	for _, f := range from {
		base := BaseName(f.Name, fromEnv)
		matched := false
		for _, t := range to {
			if BaseName(t.Name, toEnv) == base {
				pairs = append(pairs, Pair{Base: base, From: f, To: t})
				matched = true
			}
		}
		if matched {
			continue
		}
		fp := pathTemplate(f.Path, fromEnv)
		for _, t := range to {
			if fp != "" && pathTemplate(t.Path, toEnv) == fp {
				pairs = append(pairs, Pair{Base: base, From: f, To: t})
			}
		}
	}
	return pairs
}

// BaseName is an app's name without its environment: the "-<env>" suffix
// or "<env>-" prefix is removed (my-api-staging → my-api). A name without
// either is returned unchanged.
func BaseName(name, env string) string {
	if env == "" {
		return name
	}
	lower, e := strings.ToLower(name), strings.ToLower(env)
	switch {
	case strings.HasSuffix(lower, "-"+e) && len(name) > len(e)+1:
		return name[:len(name)-len(e)-1]
	case strings.HasPrefix(lower, e+"-") && len(name) > len(e)+1:
		return name[len(e)+1:]
	}
	return name
}

// pathTemplate replaces the path element equal to env with a placeholder,
// or returns "" when no element is env.
func pathTemplate(p, env string) string {
	parts := strings.Split(path.Clean(p), "/")
	found := false
	for i, part := range parts {
		if strings.EqualFold(part, env) {
			parts[i] = "\x00"
			found = true
		}
	}
	if !found {
		return ""
	}
	return strings.Join(parts, "/")
}

// NextEnvironment returns the step promoting out of env.
func NextEnvironment(steps []Step, env string) (Step, bool) {
	for _, s := range steps {
		if s.From == env {
			return s, true
		}
	}
	return Step{}, false
}

// PreviousEnvironment returns the step promoting into env.
func PreviousEnvironment(steps []Step, env string) (Step, bool) {
	for _, s := range steps {
		if s.To == env {
			return s, true
		}
	}
	return Step{}, false
}

// Environments lists the environments of steps in pipeline order: each
// chain from its first source to its last target, chains in the order their
// first step appears.
func Environments(steps []Step) []string {
	next := map[string]string{}
	isTarget := map[string]bool{}
	for _, s := range steps {
		if _, ok := next[s.From]; !ok {
			next[s.From] = s.To
		}
		isTarget[s.To] = true
	}
	var envs []string
	seen := map[string]bool{}
	walk := func(e string) {
		for ; e != "" && !seen[e]; e = next[e] {
			seen[e] = true
			envs = append(envs, e)
		}
	}
	for _, s := range steps {
		if !isTarget[s.From] {
			walk(s.From)
		}
	}
	for _, s := range steps { // cycles have no start
		walk(s.From)
	}
	return envs
}
