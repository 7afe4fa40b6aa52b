package kustomize

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Limits bound one render. A zero field takes the process's limit
// (SetLimits), which defaults to DefaultLimits.
type Limits struct {
	// Timeout bounds how long kustomize may build, not counting the wait for
	// a free render worker (ctx bounds that).
	Timeout time.Duration
	// MaxMemory bounds the resident memory of the render worker, in bytes.
	MaxMemory int64
	// MaxObjects bounds how many objects the render may hold: the documents
	// its kustomization graph loads (every base counted as often as it is
	// listed) and the objects it finally prints.
	MaxObjects int
}

// DefaultLimits are the limits of a render unless the operator sets others:
// 30 s, 1 GiB and 20,000 objects.
func DefaultLimits() Limits {
	return Limits{Timeout: 30 * time.Second, MaxMemory: 1 << 30, MaxObjects: 20000}
}

var (
	limitsMu      sync.Mutex
	processLimits = DefaultLimits()
)

// SetLimits sets the limits of every later render of this process whose
// RenderOptions leave them zero; zero fields of l keep DefaultLimits. promobot
// calls it once, from its flags, before rendering anything. It is safe for
// concurrent use.
func SetLimits(l Limits) {
	limitsMu.Lock()
	defer limitsMu.Unlock()
	processLimits = l.or(DefaultLimits())
}

// or fills the zero fields of l from d.
func (l Limits) or(d Limits) Limits {
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxMemory <= 0 {
		l.MaxMemory = d.MaxMemory
	}
	if l.MaxObjects <= 0 {
		l.MaxObjects = d.MaxObjects
	}
	return l
}

// effective returns l with its zero fields taken from the process's limits.
func (l Limits) effective() Limits {
	limitsMu.Lock()
	defer limitsMu.Unlock()
	return l.or(processLimits)
}

// ErrRenderRefused is wrapped by every error about a render stopped at one of
// its limits (a *LimitError).
var ErrRenderRefused = errors.New("render refused")

// Limit names one of the limits of a render.
type Limit string

// The limits a render can run into; each is named by the promobot flag that
// sets it, so a refusal tells the operator what to raise.
const (
	LimitTimeout Limit = "--render-timeout"
	LimitMemory  Limit = "--render-max-memory"
	LimitObjects Limit = "--render-max-objects"
)

// LimitError is a render stopped at one of its limits. It matches
// ErrRenderRefused with errors.Is.
type LimitError struct {
	// Limit is the limit the render ran into.
	Limit Limit
	// Limits are the limits the render had.
	Limits Limits
}

// Error says which limit stopped the render, e.g. `render refused: more than
// 20000 objects (limit --render-max-objects)`.
func (e *LimitError) Error() string {
	var what string
	switch e.Limit {
	case LimitTimeout:
		what = fmt.Sprintf("render took longer than %s", e.Limits.Timeout)
	case LimitMemory:
		what = fmt.Sprintf("render used more than %s of memory", formatBytes(e.Limits.MaxMemory))
	case LimitObjects:
		what = fmt.Sprintf("more than %d objects", e.Limits.MaxObjects)
	default:
		what = "over a limit"
	}
	return fmt.Sprintf("%s: %s (limit %s)", ErrRenderRefused, what, e.Limit)
}

// Is makes a *LimitError match ErrRenderRefused.
func (e *LimitError) Is(target error) bool { return target == ErrRenderRefused }

// formatBytes prints n in the largest binary unit that divides it (1 GiB,
// 512 MiB), else in bytes.
func formatBytes(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
