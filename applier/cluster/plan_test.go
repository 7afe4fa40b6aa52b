package cluster

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func object(kind, name string, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind(kind)
	u.SetName(name)
	u.SetAnnotations(annotations)
	return u
}

// planView is a plan as "phase wave: names".
func planView(p syncPlan) []string {
	var out []string
	for _, steps := range [][]syncStep{p.steps, p.syncFail} {
		for _, s := range steps {
			var names []string
			for _, u := range s.resources {
				names = append(names, u.GetName())
			}
			for _, u := range s.hooks {
				names = append(names, "hook:"+u.GetName())
			}
			out = append(out, s.name()+": "+strings.Join(names, " "))
		}
	}
	return out
}

func TestPlanSync(t *testing.T) {
	tests := []struct {
		name    string
		objs    []*unstructured.Unstructured
		want    []string
		inv     []string
		hookRef []string
	}{
		{
			name: "one wave",
			objs: []*unstructured.Unstructured{object("ConfigMap", "a", nil), object("Service", "b", nil)},
			want: []string{"sync wave 0: a b"},
			inv:  []string{"a", "b"},
		},
		{
			name: "waves, negative first; a wave that is no integer is 0",
			objs: []*unstructured.Unstructured{
				object("ConfigMap", "late", map[string]string{AnnotationSyncWave: "5"}),
				object("ConfigMap", "early", map[string]string{AnnotationSyncWave: "-2"}),
				object("ConfigMap", "typo", map[string]string{AnnotationSyncWave: "one"}),
			},
			want: []string{"sync wave -2: early", "sync wave 0: typo", "sync wave 5: late"},
			inv:  []string{"late", "early", "typo"},
		},
		{
			name: "Argo CD hooks by phase and wave",
			objs: []*unstructured.Unstructured{
				object("Job", "post", map[string]string{AnnotationHook: "PostSync"}),
				object("Job", "pre2", map[string]string{AnnotationHook: "PreSync", AnnotationSyncWave: "2"}),
				object("Job", "pre", map[string]string{AnnotationHook: "PreSync"}),
				object("Job", "sync", map[string]string{AnnotationHook: "Sync", AnnotationSyncWave: "1"}),
				object("Job", "fail", map[string]string{AnnotationHook: "SyncFail"}),
				object("Job", "both", map[string]string{AnnotationHook: "PreSync, PostSync"}),
				object("Job", "skip", map[string]string{AnnotationHook: "Skip"}),
				object("Deployment", "app", nil),
			},
			want: []string{
				"PreSync hooks, wave 0: hook:pre hook:both", "PreSync hooks, wave 2: hook:pre2",
				"sync wave 0: app", "sync wave 1: hook:sync",
				"PostSync hooks, wave 0: hook:post hook:both",
				"SyncFail hooks, wave 0: hook:fail",
			},
			inv:     []string{"app"},
			hookRef: []string{"post", "pre2", "pre", "sync", "fail", "both", "skip"},
		},
		{
			name: "Helm hooks as Argo CD maps them; its weight is the wave; crd-install is no hook",
			objs: []*unstructured.Unstructured{
				object("Job", "install", map[string]string{helmHook: "pre-install,pre-upgrade", helmHookWeight: "-1"}),
				object("Job", "after", map[string]string{helmHook: "post-upgrade"}),
				object("Pod", "test", map[string]string{helmHook: "test"}),
				object("CustomResourceDefinition", "crd", map[string]string{helmHook: "crd-install"}),
				object("Job", "argo-wins", map[string]string{helmHook: "pre-install", AnnotationHook: "PostSync"}),
			},
			want:    []string{"PreSync hooks, wave -1: hook:install", "sync wave 0: crd", "PostSync hooks, wave 0: hook:after hook:argo-wins"},
			inv:     []string{"crd"},
			hookRef: []string{"install", "after", "test", "argo-wins"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planSync(tt.objs)
			if diff := cmp.Diff(tt.want, planView(p)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			var inv, hooks []string
			for _, u := range p.resources {
				inv = append(inv, u.GetName())
			}
			for _, r := range p.hookRefs {
				hooks = append(hooks, r.Name)
			}
			if diff := cmp.Diff(tt.inv, inv); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.hookRef, hooks); diff != "" {
				t.Errorf("hooks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHookDeletePolicies(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		want map[string]bool
	}{
		{name: "default", want: map[string]bool{BeforeHookCreation: true}},
		{name: "Argo CD's", ann: map[string]string{AnnotationHookDeletePolicy: "HookSucceeded,HookFailed"}, want: map[string]bool{HookSucceeded: true, HookFailed: true}},
		{name: "Helm's", ann: map[string]string{helmHookDeletePolicy: "hook-succeeded, before-hook-creation"}, want: map[string]bool{HookSucceeded: true, BeforeHookCreation: true}},
		{name: "Argo CD's wins", ann: map[string]string{AnnotationHookDeletePolicy: "HookFailed", helmHookDeletePolicy: "hook-succeeded"}, want: map[string]bool{HookFailed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, hookDeletePolicies(object("Job", "j", tt.ann))); diff != "" {
				t.Errorf("policies (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzPlanSync: whatever the annotations say, every object is planned
// exactly once as the app's or as a hook, steps come in phase and wave
// order, and sync options parse without panicking into a known policy.
func FuzzPlanSync(f *testing.F) {
	f.Add("PreSync", "", "-1", "", "Prune=false,PruneLast=true")
	f.Add("", "pre-install,post-upgrade", "", "3", "PrunePropagationPolicy=orphan")
	f.Add("Skip", "crd-install", "x", "-7", "Replace=true")
	f.Add("PostSync,SyncFail", "", "2147483648", "", "=,,=")
	f.Fuzz(func(t *testing.T, hook, helm, wave, weight, options string) {
		ann := map[string]string{}
		for k, v := range map[string]string{AnnotationHook: hook, helmHook: helm, AnnotationSyncWave: wave, helmHookWeight: weight, AnnotationSyncOptions: options} {
			if v != "" {
				ann[k] = v
			}
		}
		objs := []*unstructured.Unstructured{object("Job", "fuzzed", ann), object("ConfigMap", "plain", nil), object("Job", "hook", map[string]string{AnnotationHook: "PreSync"})}
		p := planSync(objs)
		if n := len(p.resources) + len(p.hookRefs); n != len(objs) {
			t.Fatalf("%d objects planned %d times", len(objs), n)
		}
		for i := 1; i < len(p.steps); i++ {
			a, b := p.steps[i-1], p.steps[i]
			if phaseOrder[a.phase] > phaseOrder[b.phase] || (a.phase == b.phase && a.wave >= b.wave) {
				t.Fatalf("step %s before %s", a.name(), b.name())
			}
		}
		for _, s := range p.steps {
			if s.phase != PhaseSync && len(s.resources) > 0 {
				t.Fatalf("%s holds the app's objects", s.name())
			}
		}
		so := objectSyncOptions(objs[0])
		switch so.PrunePropagationPolicy {
		case "", metav1.DeletePropagationForeground, metav1.DeletePropagationBackground, metav1.DeletePropagationOrphan:
		default:
			t.Fatalf("policy %q", so.PrunePropagationPolicy)
		}
	})
}
