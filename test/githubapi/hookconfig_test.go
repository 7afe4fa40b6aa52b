package githubapi

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	gh "github.com/google/go-github/v60/github"
)

// TestHookConfig: GET /app/hook/config serves the URL the App was created
// with (Options, then a manifest's hook_attributes), json, "0" and the
// secret masked; PATCH changes what it is given and refuses what GitHub
// refuses. Every response is validated against GitHub's description by
// TestMain.
func TestHookConfig(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	masked := gh.String("********")
	got := must(e.app.Apps.GetHookConfig(ctx)).ok(t)
	want := &gh.HookConfig{URL: gh.String(e.sink.srv.URL), ContentType: gh.String("json"), InsecureSSL: gh.String("0"), Secret: masked}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("as created (-want +got):\n%s", diff)
	}
	code, err := e.srv.NewManifestCode([]byte(`{"name":"promobot","hook_attributes":{"url":"https://promobot.example.com/webhook"}}`))
	if err != nil {
		t.Fatal(err)
	}
	must(e.app.Apps.CompleteAppManifest(ctx, code)).ok(t)
	if got := must(e.app.Apps.GetHookConfig(ctx)).ok(t); got.GetURL() != "https://promobot.example.com/webhook" {
		t.Fatalf("after the manifest: url %q, want the manifest's hook_attributes.url", got.GetURL())
	}

	tests := []struct {
		name   string
		patch  *gh.HookConfig
		status int
		want   *gh.HookConfig
	}{
		{name: "form", patch: &gh.HookConfig{ContentType: gh.String("form")}, status: http.StatusOK,
			want: &gh.HookConfig{URL: gh.String("https://promobot.example.com/webhook"), ContentType: gh.String("form"), InsecureSSL: gh.String("0"), Secret: masked}},
		{name: "insecure and a new url", patch: &gh.HookConfig{URL: gh.String(e.sink.srv.URL + "/webhook"), InsecureSSL: gh.String("1")}, status: http.StatusOK,
			want: &gh.HookConfig{URL: gh.String(e.sink.srv.URL + "/webhook"), ContentType: gh.String("form"), InsecureSSL: gh.String("1"), Secret: masked}},
		{name: "unknown content type", patch: &gh.HookConfig{ContentType: gh.String("xml")}, status: http.StatusUnprocessableEntity},
		{name: "insecure_ssl 2", patch: &gh.HookConfig{InsecureSSL: gh.String("2")}, status: http.StatusUnprocessableEntity},
		{name: "not a url", patch: &gh.HookConfig{URL: gh.String("promobot.example.com")}, status: http.StatusUnprocessableEntity},
		{name: "secret", patch: &gh.HookConfig{Secret: gh.String("new")}, status: http.StatusUnprocessableEntity},
		{name: "back to json and verified", patch: &gh.HookConfig{ContentType: gh.String("json"), InsecureSSL: gh.String("0")}, status: http.StatusOK,
			want: &gh.HookConfig{URL: gh.String(e.sink.srv.URL + "/webhook"), ContentType: gh.String("json"), InsecureSSL: gh.String("0"), Secret: masked}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.srv.WebhookConfig()
			got, _, err := e.app.Apps.UpdateHookConfig(ctx, tt.patch)
			if tt.status != http.StatusOK {
				if statusOf(err) != tt.status {
					t.Fatalf("PATCH = %v, want %d", err, tt.status)
				}
				if after := e.srv.WebhookConfig(); after != before {
					t.Fatalf("a refused PATCH changed the configuration: %+v → %+v", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("PATCH answer (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, must(e.app.Apps.GetHookConfig(ctx)).ok(t)); diff != "" {
				t.Fatalf("GET after PATCH (-want +got):\n%s", diff)
			}
		})
	}

	// The URL is where deliveries go.
	if _, err := e.srv.Push(ctx, testOwner, testRepo, "main", Commit{Message: "m", Files: map[string]string{"x.txt": "x\n"}}); err != nil {
		t.Fatal(err)
	}
	ds := e.srv.Deliveries()
	last := ds[len(ds)-1]
	req, err := e.app.NewRequest(http.MethodGet, fmt.Sprintf("app/hook/deliveries/%d", last.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		URL string `json:"url"`
	}
	if _, err := e.app.Do(ctx, req, &d); err != nil {
		t.Fatal(err)
	}
	if last.Event != "push" || d.URL != e.sink.srv.URL+"/webhook" || last.StatusCode != http.StatusOK {
		t.Fatalf("the push (%s) went to %q with %d, want the PATCHed URL %s/webhook", last.Event, d.URL, last.StatusCode, e.sink.srv.URL)
	}

	// An installation token may not read it.
	if _, _, err := e.inst.Apps.GetHookConfig(ctx); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("GET with an installation token = %v, want 401", err)
	}
}
