package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/state"
	"github.com/promobot/promobot/promoter/prbody"
	"github.com/promobot/promobot/test/kit"
)

var repo = github.Repo{Owner: "acme", Name: "cluster-config"}

const (
	commitA = "aaaaaaa1111111111111111111111111111111111"
	commitB = "bbbbbbb2222222222222222222222222222222222"
	commitC = "ccccccc3333333333333333333333333333333333"
)

// stack is a status page on a real in-process NATS, its Run reading the
// bus, served over HTTP.
type stack struct {
	bus *events.Bus
	s   *Server
	srv *httptest.Server
	now time.Time
}

func start(t *testing.T, opts Options) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bus := kit.Bus(t)
	st := &stack{bus: bus, now: time.Now()}
	opts.GitHubWebURL = "https://github.example"
	opts.Now = func() time.Time { return st.now }
	s, err := New(ctx, opts, bus)
	if err != nil {
		t.Fatal(err)
	}
	st.s = s
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	st.srv = httptest.NewServer(s)
	t.Cleanup(func() {
		st.srv.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	reg, err := state.OpenRegistry(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.AddRepo(ctx, state.RepoInstallation{Owner: repo.Owner, Repo: repo.Name, InstallationID: 1}); err != nil {
		t.Fatal(err)
	}
	return st
}

func (st *stack) put(t *testing.T, s state.AppStatus) {
	t.Helper()
	recs, err := state.OpenRecords(context.Background(), st.bus)
	if err != nil {
		t.Fatal(err)
	}
	s.Repo = repo.String()
	if err := recs.Put(context.Background(), repo, state.AppRecord{AppStatus: s}); err != nil {
		t.Fatal(err)
	}
}

func (st *stack) fact(t *testing.T, kind, verb string, data any) {
	t.Helper()
	if _, err := st.bus.PublishFact(context.Background(), events.Fact{Kind: kind, Verb: verb, Owner: repo.Owner, Repo: repo.Name, Data: data}); err != nil {
		t.Fatal(err)
	}
}

// merged stores a pull_request delivery saying PR n merged as commit sha.
func (st *stack) merged(t *testing.T, n int, sha string) {
	t.Helper()
	ev := event.New()
	ev.SetID(fmt.Sprintf("delivery-%d", n))
	ev.SetType("com.github.pull_request.closed")
	ev.SetSource("https://github.example/" + repo.String())
	payload := fmt.Sprintf(`{"action":"closed","number":%d,"pull_request":{"number":%d,"merged":true,"merge_commit_sha":%q,"html_url":"https://github.example/%s/pull/%d"}}`, n, n, sha, repo, n)
	if err := ev.SetData("application/json", []byte(payload)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.bus.Publish(context.Background(), events.GitHubSubject("pull_request", repo.Owner, repo.Name), ev); err != nil {
		t.Fatal(err)
	}
}

func (st *stack) page(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(st.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s: %s", resp.Status, body)
	}
	return string(body)
}

// waitPage waits until the page holds want and returns it.
func (st *stack) waitPage(t *testing.T, want string) string {
	t.Helper()
	var page string
	kit.Eventually(t, 10*time.Second, "the page to show "+want, func() (bool, string) {
		page = st.page(t)
		return strings.Contains(page, want), page
	})
	return page
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// text is the page's text between from and the element's end tag, tags
// removed and spaces collapsed.
func text(html, from, end string) string {
	i := strings.Index(html, from)
	if i < 0 {
		return "(missing " + from + ")"
	}
	rest := html[i:]
	if !strings.HasPrefix(from, "<") {
		rest = rest[strings.Index(rest, ">")+1:]
	}
	if j := strings.Index(rest, end); j >= 0 {
		rest = rest[:j]
	}
	return strings.Join(strings.Fields(tagRE.ReplaceAllString(rest, " ")), " ")
}

func TestMatrixCells(t *testing.T) {
	st := start(t, Options{})
	applied := st.now.Add(-5 * time.Minute)
	st.put(t, state.AppStatus{App: "api-staging", Environment: "staging", Commit: commitB, Seen: commitB, AppliedAt: applied, State: state.StateApplied, Healthy: true})
	st.put(t, state.AppStatus{App: "api-production", Environment: "production", Commit: commitA, Seen: commitC, AppliedAt: applied.Add(-time.Hour), State: state.StateFailed, Message: "Deployment/prod/api apply failed: forbidden"})
	st.put(t, state.AppStatus{App: "worker-staging", Environment: "staging", Commit: commitA, Seen: commitA, AppliedAt: applied, State: state.StateApplied, Healthy: false})
	st.put(t, state.AppStatus{App: "web-staging", Environment: "staging", Seen: commitC, State: state.StateFailed, Message: "render: unknown field"})
	st.merged(t, 12, commitB)
	st.fact(t, "drift", "found", map[string]any{"repo": repo.String(), "app": "worker-staging", "summary": "worker-staging drift found: Deployment/stg/worker"})
	st.waitPage(t, "drift found")
	page := st.waitPage(t, "#12")

	tests := []struct {
		name, cell, want string
	}{
		{"applied, healthy, its pull request", `data-app="api-staging"`, "api-staging bbbbbbb #12 applied healthy 5m ago · checks"},
		{"failed: what it runs, the commit tried and why", `data-app="api-production"`, "api-production aaaaaaa failed tried ccccccc 1h ago · checks Deployment/prod/api apply failed: forbidden"},
		{"never applied", `data-app="web-staging"`, "web-staging nothing applied yet failed tried ccccccc checks render: unknown field"},
		{"drift found after the apply", `data-app="worker-staging"`, "worker-staging aaaaaaa applied not healthy drift found 5m ago · checks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, text(page, tt.cell, "</td>")); diff != "" {
				t.Errorf("cell (-want +got):\n%s", diff)
			}
		})
	}
	links := []string{
		`href="https://github.example/acme/cluster-config/commit/` + commitB + `"`,
		`href="https://github.example/acme/cluster-config/pull/12"`,
		`href="https://github.example/acme/cluster-config/commit/` + commitB + `/checks"`,
		`href="https://github.example/acme/cluster-config/commit/` + commitC + `"`,
		`href="https://github.example/acme/cluster-config/commit/` + commitC + `/checks"`,
	}
	for _, l := range links {
		if !strings.Contains(page, l) {
			t.Errorf("page has no link %s", l)
		}
	}
	if got := text(page, "<thead><tr><th scope=\"col\">App", "</tr>"); got != "App staging production" {
		t.Errorf("columns: %q, want App staging production (promotion order)", got)
	}
	if got := text(page, `<tr><th scope="row">worker`, "</th>"); got != "worker" {
		t.Errorf("row header %q: want the app's name without its environment", got)
	}
}

func TestHostileNamesAreEscaped(t *testing.T) {
	st := start(t, Options{})
	st.put(t, state.AppStatus{App: `<script>alert(1)</script>`, Environment: "staging", Commit: commitA, State: state.StateFailed, Seen: commitA,
		Message: `<img src=x onerror=alert(2)>`})
	page := st.waitPage(t, "alert(1)")
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the app's name is not shown escaped")
	}
}

func TestFeedKeepsTheNewestFactsAndDeadLetters(t *testing.T) {
	st := start(t, Options{FeedSize: 3})
	for i := 1; i <= 5; i++ {
		st.fact(t, "apply", "completed", map[string]any{"repo": repo.String(), "app": "api", "summary": fmt.Sprintf("api applied %d", i)})
	}
	st.fact(t, "promotion", "requested", map[string]any{"repo": repo.String(), "command": "/promote", "source_pr": 3, "requested_by": "alice"})
	st.fact(t, "promotion", "opened", map[string]any{"repo": repo.String(), "app": "api", "from": "staging", "to": "production", "pr": 7})
	dl := events.DeadLetter{Consumer: "promobot-applier", Subject: "github.push.acme.cluster-config", EventType: "com.github.push", Attempts: 5, Reason: "render: kustomization.yaml: unknown field"}
	st.fact(t, "deadletter", "promobot-applier", dl)
	st.waitPage(t, "unknown field")
	page := st.waitPage(t, "production #7")
	got := text(page, `<ol class="feed">`, "</ol>")
	want := "0s ago promotion opened acme/cluster-config api staging → production #7 0s ago promotion requested acme/cluster-config /promote on #3 by @alice 0s ago apply completed acme/cluster-config api applied 5"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
	if got, want := text(page, `<div id="dead">`, "</table>"), "When Consumer Event Attempts Reason 0s ago promobot-applier github.push.acme.cluster-config com.github.push 5 render: kustomization.yaml: unknown field"; got != want {
		t.Errorf("dead letters:\n got %q\nwant %q", got, want)
	}
}

func TestPromotionsShowWhatHoldsThem(t *testing.T) {
	st := start(t, Options{})
	ctx := context.Background()
	prs, err := state.OpenPromotionPRs[promotionEntry](ctx, st.bus)
	if err != nil {
		t.Fatal(err)
	}
	image := []prbody.Image{{Name: "ghcr.io/acme/api", To: prbody.Ref{NewTag: "1.2.0"}}}
	for branch, e := range map[string]promotionEntry{
		"promobot/promote/api/production": {PR: 7, SourcePR: 3, Images: image},
		"promobot/promote/web/qa":         {PR: 8, Images: image},
		"promobot/rollback/db/staging":    {PR: 9, Revision: &prbody.Revision{From: "v1", To: commitA}},
	} {
		if err := prs.Put(ctx, repo, branch, e); err != nil {
			t.Fatal(err)
		}
	}
	freezes, err := state.OpenFreezes(ctx, st.bus)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 4, 0, 0, 0, time.UTC)
	if err := freezes.Set(ctx, repo, state.Freeze{Env: "production", By: "alice", Reason: "incident 42", At: at}); err != nil {
		t.Fatal(err)
	}
	st.put(t, state.AppStatus{App: "api-production", Environment: "production", Commit: commitA, State: state.StateApplied})
	st.put(t, state.AppStatus{App: "api-staging", Environment: "staging", Commit: commitA, State: state.StateApplied})
	st.fact(t, "promotion", "waiting", map[string]any{"repo": repo.String(), "app": "web", "branch": "promobot/promote/web/qa", "reason": "the soak time of 1h has not passed"})
	st.fact(t, "promotion", "refused", map[string]any{"repo": repo.String(), "app": "worker", "branch": "promobot/promote/worker/qa",
		"reason": "`qa` must run abc1234 for 1h before it is promoted (it has run it for 20m). Promote after 2026-11-30 05:00 UTC."})
	st.fact(t, "promotion", "refused", map[string]any{"repo": repo.String(), "app": "api", "branch": "promobot/promote/api/production", "reason": "an earlier refusal"})
	st.fact(t, "promotion", "refused", map[string]any{"repo": repo.String(), "app": "cache", "branch": "promobot/promote/cache/production", "reason": "production is frozen"})
	st.fact(t, "promotion", "refused", map[string]any{"repo": repo.String(), "app": "old", "branch": "promobot/promote/old/qa", "reason": "refused once"})
	st.fact(t, "promotion", "opened", map[string]any{"repo": repo.String(), "app": "old", "branch": "promobot/promote/old/qa", "pr": 3})
	st.waitPage(t, "soak time")
	page := st.waitPage(t, "old #3") // the last fact: the page has read them all
	tests := []struct{ row, want string }{
		{`data-app="api" data-env="production"`, "acme/cluster-config api production #7 #3 ghcr.io/acme/api:1.2.0 frozen frozen by @alice (/freeze production): incident 42, since 2026-11-30 04:00 UTC"},
		{`data-app="web" data-env="qa"`, "acme/cluster-config web qa #8 - ghcr.io/acme/api:1.2.0 waiting waiting: the soak time of 1h has not passed"},
		{`data-app="db" data-env="staging"`, "acme/cluster-config db staging #9 rollback - revision v1 → aaaaaaa open"},
		{`data-app="worker" data-env="qa"`, "acme/cluster-config worker qa not opened - held refused 0s ago: `qa` must run abc1234 for 1h before it is promoted (it has run it for 20m). Promote after 2026-11-30 05:00 UTC."},
		{`data-app="cache" data-env="production"`, "acme/cluster-config cache production not opened - frozen frozen by @alice (/freeze production): incident 42, since 2026-11-30 04:00 UTC"},
	}
	if strings.Contains(page, `data-app="old"`) {
		t.Errorf("a refusal followed by an opened pull request the promoter no longer remembers is shown")
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, text(page, tt.row, "</tr>")); diff != "" {
			t.Errorf("row %s (-want +got):\n%s", tt.row, diff)
		}
	}
	if got, want := text(page, `<p class="freeze" data-env="production"`, "</p>"), "frozen production: frozen by @alice (/freeze production): incident 42, since 2026-11-30 04:00 UTC"; got != want {
		t.Errorf("the matrix's freeze:\n got %q\nwant %q", got, want)
	}
	if got, want := text(page, "<thead><tr><th scope=\"col\">App", "</tr>"), "App staging production frozen"; got != want {
		t.Errorf("the matrix's columns: %q, want %q", got, want)
	}
	if !strings.Contains(page, `href="https://github.example/acme/cluster-config/pull/7"`) {
		t.Errorf("no link to the promotion pull request")
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct{ name, data string }

// readEvents reads Server-Sent Events from r into the returned channel.
func readEvents(r io.Reader) <-chan sseEvent {
	out := make(chan sseEvent)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					ev.data = strings.Join(data, "\n")
					out <- ev
				}
				ev, data = sseEvent{}, nil
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	return out
}

func TestEventsPushTheChangedMatrix(t *testing.T) {
	st := start(t, Options{})
	st.put(t, state.AppStatus{App: "api-staging", Environment: "staging", Commit: commitA, Seen: commitA, State: state.StateApplied, Healthy: true, AppliedAt: st.now})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	evs := readEvents(resp.Body)
	var first []string
	for range fragments {
		ev := <-evs
		first = append(first, ev.name)
		if ev.name == "matrix" && !strings.Contains(ev.data, "aaaaaaa") {
			t.Fatalf("the first matrix fragment does not show the current commit:\n%s", ev.data)
		}
	}
	if diff := cmp.Diff(fragments, first); diff != "" {
		t.Fatalf("first events (-want +got):\n%s", diff)
	}
	st.put(t, state.AppStatus{App: "api-staging", Environment: "staging", Commit: commitB, Seen: commitB, State: state.StateApplied, Healthy: true, AppliedAt: st.now})
	if err := state.PublishApply(ctx, st.bus, repo, state.ApplyCompleted, "test", state.ApplyFact{App: "api-staging", Commit: commitB, State: state.StateApplied, Summary: "api-staging applied bbbbbbb"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for ev := range evs {
		names = append(names, ev.name)
		if ev.name == "matrix" && strings.Contains(ev.data, `data-commit="`+commitB+`"`) {
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the stream ended before a matrix with %s: %v", commitB, ctx.Err())
	}
	// The promotions and the dead letters did not change: they were not
	// sent again.
	if slices.Contains(names, "promotions") || slices.Contains(names, "dead") {
		t.Errorf("events after the apply: %q, want only the changed fragments (matrix, feed)", names)
	}
}

func TestHeadersAndStatic(t *testing.T) {
	st := start(t, Options{})
	tests := []struct {
		path, contentType, body string
	}{
		{"/", "text/html; charset=utf-8", `<script src="static/live.js" defer></script>`},
		{"/static/live.js", "text/javascript; charset=utf-8", "new EventSource(\"events\")"},
		{"/static/style.css", "text/css; charset=utf-8", "--focus"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(st.srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			got := []string{resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Security-Policy"), resp.Header.Get("X-Content-Type-Options")}
			want := []string{"200 OK", tt.contentType, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", "nosniff"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if !strings.Contains(string(body), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
		})
	}
	for _, method := range []string{http.MethodPost, http.MethodDelete} {
		req, _ := http.NewRequest(method, st.srv.URL+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /: %s, want 405: the page is read-only", method, resp.Status)
		}
	}
}

func FuzzWriteEvent(f *testing.F) {
	f.Add("matrix", "<p>one</p>\n<p>two</p>")
	f.Add("feed", "\n\nevent: forged\ndata: x\n\n")
	f.Add("dead", "a\r\nb\rc")
	f.Fuzz(func(t *testing.T, name, data string) {
		if strings.ContainsAny(name, "\r\n") || name == "" {
			return // names are the fragments' ids
		}
		rec := httptest.NewRecorder()
		if err := writeEvent(rec, name, data); err != nil {
			t.Fatal(err)
		}
		var got []sseEvent
		for ev := range readEvents(rec.Body) {
			got = append(got, ev)
		}
		if len(got) != 1 || got[0].name != name {
			raw, _ := json.Marshal(rec.Body.String())
			t.Fatalf("one event %q in, %d out: %s", name, len(got), raw)
		}
	})
}

// TestEventStreamsAreBounded: live streams beyond MaxStreams are refused
// with 503, and a closed stream frees its place.
func TestEventStreamsAreBounded(t *testing.T) {
	st := start(t, Options{MaxStreams: 1})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.srv.URL+"/events", nil)
	first, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-readEvents(first.Body) // the stream holds its place once it sends
	second, err := http.Get(st.srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	second.Body.Close()
	if second.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a second stream: %s, want 503", second.Status)
	}
	cancel()
	first.Body.Close()
	kit.Eventually(t, 10*time.Second, "the first stream's place to free", func() (bool, string) {
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, st.srv.URL+"/events", nil)
		again, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err.Error()
		}
		defer again.Body.Close()
		return again.StatusCode == http.StatusOK, again.Status
	})
}

func TestClip(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly ten", 11, "exactly ten"},
		{"ünïcödé text", 5, "ünïc…"},
	}
	for _, tt := range tests {
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// A page stopped before its readers have started stops cleanly: Run
// returns no error (shutdown during start is not a failure).
func TestRunStoppedWhileStarting(t *testing.T) {
	bus := kit.Bus(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, Options{}, bus)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Errorf("Run after its context ended = %v, want nil", err)
	}
}
