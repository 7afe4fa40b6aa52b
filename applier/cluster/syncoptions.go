package cluster

import (
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Argo CD's annotations on rendered objects, read as Argo CD reads them.
const (
	// AnnotationSyncWave orders an app's objects: lower waves apply, and
	// become healthy, before higher ones. An integer, default 0.
	AnnotationSyncWave = "argocd.argoproj.io/sync-wave"
	// AnnotationHook makes an object a hook of a sync phase: PreSync, Sync,
	// PostSync, SyncFail, or Skip (never applied). Several are
	// comma-separated.
	AnnotationHook = "argocd.argoproj.io/hook"
	// AnnotationHookDeletePolicy says when a hook is deleted:
	// BeforeHookCreation (the default), HookSucceeded, HookFailed.
	AnnotationHookDeletePolicy = "argocd.argoproj.io/hook-delete-policy"
	// AnnotationSyncOptions holds an object's own sync options,
	// comma-separated: Prune=false, Delete=false, Replace=true,
	// PruneLast=true.
	AnnotationSyncOptions = "argocd.argoproj.io/sync-options"
	// AnnotationCompareOptions holds an object's compare options
	// (IgnoreExtraneous).
	AnnotationCompareOptions = "argocd.argoproj.io/compare-options"

	helmHook             = "helm.sh/hook"
	helmHookWeight       = "helm.sh/hook-weight"
	helmHookDeletePolicy = "helm.sh/hook-delete-policy"
)

// SyncOptions are the Argo CD sync options promobot acts on, from an
// Application's spec.syncPolicy.syncOptions or an object's
// AnnotationSyncOptions. CreateNamespace is Options.CreateNamespace;
// ServerSideApply and ApplyOutOfSyncOnly are what promobot always does
// (server-side apply, writing only objects whose dry run differs).
type SyncOptions struct {
	// Replace replaces objects (create or update) instead of applying
	// them: fields the render does not set are removed, whoever set them.
	Replace bool
	// PruneLast prunes after every wave is applied and healthy, instead
	// of right after the last wave is applied.
	PruneLast bool
	// PrunePropagationPolicy is the deletion propagation of prune:
	// foreground, background (the default) or orphan.
	PrunePropagationPolicy metav1.DeletionPropagation
	// RespectIgnoreDifferences keeps the live value of ignored fields
	// (Options.IgnoreDifferences) when applying; without it a sync
	// overwrites them, as Argo CD does. Self-heal always keeps them.
	RespectIgnoreDifferences bool
	// NoPrune (Prune=false, on an object) keeps the object when the render
	// no longer has it; the apply reports it as requiring pruning.
	NoPrune bool
	// NoDelete (Delete=false, on an object) keeps the object when the app is
	// deleted. promobot never deletes an app's objects when its
	// Application goes away, so every object is kept then anyway.
	NoDelete bool
}

// ParseSyncOptions reads Argo CD sync options ("Replace=true",
// "PrunePropagationPolicy=foreground", ...). Options promobot does not act
// on are ignored, as Argo CD ignores options it does not know; a
// PrunePropagationPolicy it does not know is an error.
func ParseSyncOptions(opts []string) (SyncOptions, error) {
	var so SyncOptions
	for _, o := range opts {
		k, v, _ := strings.Cut(strings.TrimSpace(o), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		isTrue, isFalse := strings.EqualFold(v, "true"), strings.EqualFold(v, "false")
		switch k {
		case "Replace":
			so.Replace = isTrue
		case "PruneLast":
			so.PruneLast = isTrue
		case "RespectIgnoreDifferences":
			so.RespectIgnoreDifferences = isTrue
		case "Prune":
			so.NoPrune = isFalse
		case "Delete":
			so.NoDelete = isFalse
		case "PrunePropagationPolicy":
			switch strings.ToLower(v) {
			case "foreground":
				so.PrunePropagationPolicy = metav1.DeletePropagationForeground
			case "background":
				so.PrunePropagationPolicy = metav1.DeletePropagationBackground
			case "orphan":
				so.PrunePropagationPolicy = metav1.DeletePropagationOrphan
			default:
				return so, fmt.Errorf("sync option %q: the policy is foreground, background or orphan", o)
			}
		}
	}
	return so, nil
}

// objectSyncOptions reads u's AnnotationSyncOptions; a value it cannot read
// counts as no options.
func objectSyncOptions(u *unstructured.Unstructured) SyncOptions {
	raw := u.GetAnnotations()[AnnotationSyncOptions]
	if raw == "" {
		return SyncOptions{}
	}
	so, _ := ParseSyncOptions(strings.Split(raw, ","))
	return so
}

// The sync phases of hooks, and Skip.
const (
	PhasePreSync  = "PreSync"
	PhaseSync     = "Sync"
	PhasePostSync = "PostSync"
	PhaseSyncFail = "SyncFail"
	hookSkip      = "Skip"
)

// helmHookPhases maps Helm's hooks to Argo CD's phases as Argo CD does;
// Helm's other hooks (delete, rollback, test) never run.
var helmHookPhases = map[string]string{
	"pre-install":  PhasePreSync,
	"pre-upgrade":  PhasePreSync,
	"post-install": PhasePostSync,
	"post-upgrade": PhasePostSync,
}

// hookPhases returns the phases u is a hook of and whether u is a hook at
// all: Argo CD's annotation wins over Helm's; Helm's crd-install is no hook.
// A hook of no phase promobot runs (Skip, or only Helm hooks Argo CD does
// not map) is a hook that is never applied.
func hookPhases(u *unstructured.Unstructured) (phases []string, isHook bool) {
	a := u.GetAnnotations()
	if v, ok := a[AnnotationHook]; ok {
		for _, p := range strings.Split(v, ",") {
			switch p = strings.TrimSpace(p); p {
			case PhasePreSync, PhaseSync, PhasePostSync, PhaseSyncFail:
				phases = append(phases, p)
			}
		}
		return phases, true
	}
	v, ok := a[helmHook]
	if !ok || strings.TrimSpace(v) == "crd-install" {
		return nil, false
	}
	seen := map[string]bool{}
	for _, h := range strings.Split(v, ",") {
		if p, ok := helmHookPhases[strings.TrimSpace(h)]; ok && !seen[p] {
			seen[p] = true
			phases = append(phases, p)
		}
	}
	return phases, true
}

// Hook delete policies.
const (
	HookSucceeded      = "HookSucceeded"
	HookFailed         = "HookFailed"
	BeforeHookCreation = "BeforeHookCreation"
)

// hookDeletePolicies returns u's delete policies: Argo CD's annotation, else
// Helm's, else BeforeHookCreation.
func hookDeletePolicies(u *unstructured.Unstructured) map[string]bool {
	a := u.GetAnnotations()
	out := map[string]bool{}
	if v, ok := a[AnnotationHookDeletePolicy]; ok {
		for _, p := range strings.Split(v, ",") {
			out[strings.TrimSpace(p)] = true
		}
	} else if v, ok := a[helmHookDeletePolicy]; ok {
		helm := map[string]string{"before-hook-creation": BeforeHookCreation, "hook-succeeded": HookSucceeded, "hook-failed": HookFailed}
		for _, p := range strings.Split(v, ",") {
			if pol, ok := helm[strings.TrimSpace(p)]; ok {
				out[pol] = true
			}
		}
	}
	if len(out) == 0 {
		out[BeforeHookCreation] = true
	}
	return out
}

// syncWave returns u's wave: AnnotationSyncWave, else Helm's hook weight,
// else 0. A value that is no integer counts as 0, as in Argo CD.
func syncWave(u *unstructured.Unstructured) int {
	a := u.GetAnnotations()
	v, ok := a[AnnotationSyncWave]
	if !ok {
		v = a[helmHookWeight]
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0
	}
	return n
}

// ignoresExtraneous reports whether u's AnnotationCompareOptions hold
// IgnoreExtraneous: left in the cluster while the render no longer has it,
// it is not reported.
func ignoresExtraneous(u *unstructured.Unstructured) bool {
	for _, o := range strings.Split(u.GetAnnotations()[AnnotationCompareOptions], ",") {
		if strings.TrimSpace(o) == "IgnoreExtraneous" {
			return true
		}
	}
	return false
}
