package cluster

import (
	"fmt"
	"strings"
)

// ConflictError reports that applying would change fields another field
// manager owns (someone ran `kubectl edit`, `kubectl scale`, or another tool
// applies the same object). Conflicts are found by server-side dry runs before
// anything of the same apply stage is written, so none of the app's ordinary
// objects were changed (its Namespaces and CRDs, applied first, may have
// been). Re-apply with Options.Force to take the fields over, as
// `kubectl apply --server-side --force-conflicts` would.
type ConflictError struct {
	Conflicts []Conflict
}

// Conflict is one field of one object owned by another manager.
type Conflict struct {
	// Object is the conflicting object.
	Object ObjectRef `json:"object"`
	// Manager is the field manager that owns the field, e.g. "kubectl-edit".
	Manager string `json:"manager"`
	// Field is the field path, e.g. ".spec.replicas".
	Field string `json:"field"`
}

// Error lists every conflict, e.g.
// `apply conflict: Deployment/ns/api .spec.replicas is owned by "kubectl-edit"; apply with force to take ownership`.
func (e *ConflictError) Error() string {
	parts := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		parts[i] = fmt.Sprintf("%s %s is owned by %q", c.Object, c.Field, c.Manager)
	}
	return "apply conflict: " + strings.Join(parts, ", ") + "; apply with force to take ownership"
}

// HealthError reports that applied objects did not all become healthy
// (kstatus Current) within Options.HealthTimeout, or that one failed.
type HealthError struct {
	// TimedOut is true when the wait ran out of time; false when an object
	// reached the Failed status.
	TimedOut bool
	// Unhealthy lists the objects that are not Current.
	Unhealthy []ObjectHealth
}

// Error names every unhealthy object with its status and message.
func (e *HealthError) Error() string {
	parts := make([]string, len(e.Unhealthy))
	for i, h := range e.Unhealthy {
		parts[i] = h.String()
	}
	what := "failed"
	if e.TimedOut {
		what = "not healthy before the timeout"
	}
	return fmt.Sprintf("health: %d object(s) %s: %s", len(e.Unhealthy), what, strings.Join(parts, ", "))
}
