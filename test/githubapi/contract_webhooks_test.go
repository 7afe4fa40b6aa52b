package githubapi

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
)

// observedHooks holds every webhook a sink received during the package's
// tests; TestMain validates them against GitHub's webhook schemas after
// the tests pass, as validateObserved does for REST responses.
var observedHooks struct {
	sync.Mutex
	all []received
}

func observeHook(r received) {
	observedHooks.Lock()
	defer observedHooks.Unlock()
	observedHooks.all = append(observedHooks.all, r)
}

// webhookSchema is the name GitHub's description gives the payload schema
// of event with action ("webhook-pull-request-opened", "webhook-push").
func webhookSchema(event, action string) string {
	name := "webhook-" + strings.ReplaceAll(event, "_", "-")
	if action != "" {
		name += "-" + strings.ReplaceAll(action, "_", "-")
	}
	return name
}

// validateWebhook checks one delivered payload against the schema GitHub's
// description documents for its event and action.
func validateWebhook(doc *openapi3.T, event string, body []byte) error {
	var head struct {
		Action string `json:"action"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return fmt.Errorf("%s: payload is not JSON: %w", event, err)
	}
	name := webhookSchema(event, head.Action)
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("%s: no schema %s in the description", event, name)
	}
	var value any
	if err := json.Unmarshal(body, &value); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := ref.Value.VisitJSON(value, openapi3.MultiErrors()); err != nil {
		return fmt.Errorf("%s: %s", name, shorten(err))
	}
	return nil
}

// validateObservedHooks validates every webhook received during the
// package's tests and returns the exit code.
func validateObservedHooks() int {
	observedHooks.Lock()
	all := append([]received(nil), observedHooks.all...)
	observedHooks.Unlock()
	if len(all) == 0 {
		return 0
	}
	doc, err := loadSpec()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: OpenAPI webhook contract:", err)
		return 1
	}
	seen := map[string]bool{}
	var failures []string
	kinds := map[string]bool{}
	for _, r := range all {
		var head struct {
			Action string `json:"action"`
		}
		_ = json.Unmarshal(r.Body, &head)
		kinds[webhookSchema(r.Event, head.Action)] = true
		if err := validateWebhook(doc, r.Event, r.Body); err != nil && !seen[err.Error()] {
			seen[err.Error()] = true
			failures = append(failures, err.Error())
		}
	}
	if len(failures) > 0 {
		sort.Strings(failures)
		fmt.Fprintf(os.Stderr, "FAIL: %d webhook payloads do not match GitHub's webhook schemas:\n  %s\n", len(failures), strings.Join(failures, "\n  "))
		return 1
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(os.Stderr, "OpenAPI webhook contract: %d payloads validated (%s)\n", len(all), strings.Join(names, ", "))
	return 0
}
