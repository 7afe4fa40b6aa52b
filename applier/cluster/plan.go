package cluster

import (
	"cmp"
	"crypto/rand"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// syncStep is one wave of one phase of a sync: the objects applied
// together and awaited together before the next step.
type syncStep struct {
	phase string
	wave  int
	// resources are the app's own objects (Sync phase only).
	resources []*unstructured.Unstructured
	// hooks run in this step: created afresh, awaited, deleted by policy.
	hooks []*unstructured.Unstructured
}

// name is "sync wave 1" or "PreSync hooks, wave 0".
func (s syncStep) name() string {
	if s.phase == PhaseSync {
		return "sync wave " + itoa(s.wave)
	}
	return s.phase + " hooks, wave " + itoa(s.wave)
}

// syncPlan is how one apply goes, as Argo CD syncs: PreSync hooks, the
// app's objects with the Sync hooks wave by wave, PostSync hooks; SyncFail
// hooks when any of that failed.
type syncPlan struct {
	// resources are every object that is not a hook: what the inventory
	// holds and prune compares with.
	resources []*unstructured.Unstructured
	// hookRefs are the hooks and skipped objects of the render: never in
	// the inventory, never pruned as the app's objects.
	hookRefs []ObjectRef
	// steps are PreSync, Sync and PostSync, each by wave, lowest first.
	steps []syncStep
	// syncFail are the SyncFail hooks by wave.
	syncFail []syncStep
}

var phaseOrder = map[string]int{PhasePreSync: 0, PhaseSync: 1, PhasePostSync: 2, PhaseSyncFail: 3}

// planSync splits desired into the app's objects and its hooks, by phase
// and wave. Within a step fluxcd/pkg/ssa orders objects by kind
// (Namespaces and CRDs first), as Argo CD does within a wave.
func planSync(desired []*unstructured.Unstructured) syncPlan {
	var p syncPlan
	index := map[[2]int]*syncStep{}
	step := func(phase string, wave int) *syncStep {
		key := [2]int{phaseOrder[phase], wave}
		if s, ok := index[key]; ok {
			return s
		}
		s := &syncStep{phase: phase, wave: wave}
		index[key] = s
		return s
	}
	for _, u := range desired {
		phases, isHook := hookPhases(u)
		if !isHook {
			p.resources = append(p.resources, u)
			s := step(PhaseSync, syncWave(u))
			s.resources = append(s.resources, u)
			continue
		}
		p.hookRefs = append(p.hookRefs, refOf(u))
		for _, ph := range phases {
			s := step(ph, syncWave(u))
			s.hooks = append(s.hooks, u)
		}
	}
	keys := make([][2]int, 0, len(index))
	for k := range index {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]int) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	for _, k := range keys {
		if s := index[k]; s.phase == PhaseSyncFail {
			p.syncFail = append(p.syncFail, *s)
		} else {
			p.steps = append(p.steps, *s)
		}
	}
	return p
}

// lastSyncStep is the index of the plan's last Sync step, -1 without one.
func (p syncPlan) lastSyncStep() int {
	last := -1
	for i, s := range p.steps {
		if s.phase == PhaseSync {
			last = i
		}
	}
	return last
}

// generatedName completes a generateName as the API server would, so a
// hook with generateName gets a fresh name on every sync.
func generatedName(prefix string) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	buf := make([]byte, 5)
	_, _ = rand.Read(buf)
	for i, v := range buf {
		buf[i] = alphabet[int(v)%len(alphabet)]
	}
	return prefix + string(buf)
}

func itoa(n int) string { return strconv.Itoa(n) }
