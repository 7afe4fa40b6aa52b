// Package doctor checks a promobot installation the way an operator would
// by hand: the GitHub App's permissions, webhook configuration, events and
// webhook deliveries, its installations, each repository's .promobot.yaml
// and apps (rendered as the applier renders them), each cluster's
// reachability and its RBAC for what those apps write, and the bus.
// Every check says what it found and, when it is not ok, what to fix.
package doctor

import (
	"encoding/json"
	"fmt"
	"io"
)

// Status is a check's outcome.
type Status string

// The outcomes of a check.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one finding.
type Check struct {
	// Name says what was checked, e.g. "github app permissions".
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Found is what the check saw.
	Found string `json:"found"`
	// Fix says what to change; empty when Status is OK.
	Fix string `json:"fix,omitempty"`
}

// Report is every check of one run.
type Report struct {
	Checks []Check `json:"checks"`
}

// Add appends checks to the report.
func (r *Report) Add(cs ...Check) { r.Checks = append(r.Checks, cs...) }

// OK reports whether every check passed (warnings do not pass).
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status != OK {
			return false
		}
	}
	return true
}

// WriteText prints one line per check, and the fix on the next line.
func (r *Report) WriteText(w io.Writer) error {
	for _, c := range r.Checks {
		if _, err := fmt.Fprintf(w, "%-4s  %s: %s\n", c.Status, c.Name, c.Found); err != nil {
			return fmt.Errorf("doctor report write: %w", err)
		}
		if c.Fix != "" {
			if _, err := fmt.Fprintf(w, "      fix: %s\n", c.Fix); err != nil {
				return fmt.Errorf("doctor report write: %w", err)
			}
		}
	}
	return nil
}

// WriteJSON prints the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("doctor report encode: %w", err)
	}
	return nil
}

func ok(name, found string) Check { return Check{Name: name, Status: OK, Found: found} }

func fail(name, found, fix string) Check {
	return Check{Name: name, Status: Fail, Found: found, Fix: fix}
}

func warn(name, found, fix string) Check {
	return Check{Name: name, Status: Warn, Found: found, Fix: fix}
}
