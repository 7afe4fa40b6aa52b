package githubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// GitHub's OpenAPI description (npm @octokit/openapi), fetched by
// `make openapi`; the Makefile exports its path.
const openapiEnv = "PROMOBOT_GITHUB_OPENAPI"

var spec struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

// loadSpec loads the description once per test binary (about 2.5 s).
func loadSpec() (*openapi3.T, error) {
	spec.once.Do(func() {
		path := os.Getenv(openapiEnv)
		if path == "" {
			spec.err = fmt.Errorf("%s is not set: run the tests through `make test` (or `make openapi` and export %s=<repo>/.cache/openapi/node_modules/@octokit/openapi/generated/api.github.com.json)", openapiEnv, openapiEnv)
			return
		}
		if _, err := os.Stat(path); err != nil {
			spec.err = fmt.Errorf("GitHub's OpenAPI description is missing (%v): run `make openapi`", err)
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			spec.err = fmt.Errorf("load %s: %w", path, err)
			return
		}
		spec.doc = doc
	})
	return spec.doc, spec.err
}

// TestContractRoutes: every route the server registers exists, with that
// method, in GitHub's description.
func TestContractRoutes(t *testing.T) {
	doc, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var missing []string
	for _, r := range srv.Routes() {
		method, path, _ := strings.Cut(r, " ")
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		t.Errorf("routes not in GitHub's OpenAPI description:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(srv.Routes()) < 60 {
		t.Errorf("only %d routes registered", len(srv.Routes()))
	}
}

// genericStatuses may be answered on any route, documented or not: GitHub
// returns them for bad JSON, bad credentials, permissions, rate limits,
// unknown resources, validation failures (e.g. a status description over
// 140 characters) and server errors.
var genericStatuses = map[int]bool{400: true, 401: true, 403: true, 404: true, 422: true, 429: true, 500: true, 502: true, 503: true}

// validateExchange checks one served response against the description.
func validateExchange(doc *openapi3.T, ex Exchange) error {
	if ex.Route == "" {
		return nil // unmatched paths answer a plain 404
	}
	item := doc.Paths.Value(ex.Route)
	if item == nil {
		return fmt.Errorf("route %s not in the description", ex.Route)
	}
	op := item.GetOperation(ex.Method)
	if op == nil {
		return fmt.Errorf("%s %s not in the description", ex.Method, ex.Route)
	}
	u := &url.URL{Scheme: "https", Host: "api.github.com", Path: ex.Path, RawQuery: ex.Query}
	req, _ := http.NewRequest(ex.Method, u.String(), nil)
	route := &routers.Route{Spec: doc, Path: ex.Route, PathItem: item, Method: ex.Method, Operation: op}
	documented := op.Responses.Status(ex.Status) != nil
	if !documented && genericStatuses[ex.Status] {
		var body struct {
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(ex.ResponseBody, &body); err != nil || body.Message == nil {
			return fmt.Errorf("%s %s: %d without a JSON error body: %s", ex.Method, ex.Path, ex.Status, ex.ResponseBody)
		}
		return nil
	}
	// GitHub serves raw bytes when asked for its raw media type; the
	// description documents only the JSON shape.
	raw := strings.Contains(ex.RequestHeader.Get("Accept"), ".raw") &&
		strings.HasPrefix(ex.ResponseHeader.Get("Content-Type"), "application/vnd.github.raw")
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  ex.Status,
		Header:  ex.ResponseHeader,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: raw},
	}
	in.SetBodyBytes(ex.ResponseBody)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		// Some error responses are oneOf(basic-error, X) where X has no
		// required fields, so every error body matches both; matching
		// more than one is not a mismatch.
		if ex.Status >= 400 && strings.Contains(err.Error(), "matches more than one oneOf schemas") {
			return nil
		}
		return fmt.Errorf("%s %s → %d: %s", ex.Method, ex.Path, ex.Status, shorten(err))
	}
	return nil
}

func shorten(err error) string {
	var me openapi3.MultiError
	msg := err.Error()
	if errors.As(err, &me) {
		var parts []string
		for _, e := range me {
			parts = append(parts, strings.SplitN(e.Error(), "\n", 2)[0])
		}
		msg = strings.Join(parts, "\n    ")
	}
	if !errors.As(err, &me) {
		msg = strings.SplitN(msg, "\n", 2)[0]
	}
	if len(msg) > 4000 {
		msg = msg[:4000] + "…"
	}
	return msg
}

// validateObserved validates every response served during the package's
// tests (TestMain calls it after they pass) and returns the exit code.
func validateObserved() int {
	observed.Lock()
	all := append([]Exchange(nil), observed.all...)
	observed.Unlock()
	if len(all) == 0 {
		return 0
	}
	doc, err := loadSpec()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: OpenAPI contract:", err)
		return 1
	}
	seen := map[string]bool{}
	var failures []string
	for _, ex := range all {
		if err := validateExchange(doc, ex); err != nil {
			key := fmt.Sprintf("%s %s %d", ex.Method, ex.Route, ex.Status)
			if !seen[key] {
				seen[key] = true
				failures = append(failures, err.Error())
			}
		}
	}
	if len(failures) > 0 {
		sort.Strings(failures)
		fmt.Fprintf(os.Stderr, "FAIL: %d served responses do not match GitHub's OpenAPI description:\n  %s\n", len(failures), strings.Join(failures, "\n  "))
		return 1
	}
	fmt.Fprintf(os.Stderr, "OpenAPI contract: %d served responses validated\n", len(all))
	return 0
}
