package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/webhook"
)

var benchSecret = []byte("bench-webhook-secret")

// benchWebhook measures webhook ingest: signed deliveries over loopback HTTP,
// each answered only after JetStream stored it, beside two baselines under
// the same load: a bare handler that only reads the body (the HTTP ceiling)
// and a handler that only publishes the body to the same stream and waits
// for the ack (the durable ceiling).
func benchWebhook(ctx context.Context, cfg config) error {
	dir, err := os.MkdirTemp("", "promobot-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := events.StartEmbedded(events.EmbeddedOptions{DataDir: dir})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := srv.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	bus, err := events.New(ctx, nc, events.Options{})
	if err != nil {
		return err
	}
	rc, err := webhook.New(webhook.Options{Secrets: [][]byte{benchSecret}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, bus)
	if err != nil {
		return err
	}
	js, _ := jetstream.New(nc)

	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})
	durable := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		msg := nats.NewMsg("github.bench.o.r")
		msg.Data = body
		msg.Header.Set(events.HeaderMsgID, r.Header.Get(webhook.HeaderDelivery))
		if _, err := js.PublishMsg(r.Context(), msg); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	targets := []struct {
		name    string
		handler http.Handler
	}{
		{"bare HTTP (ceiling)", bare},
		{"publish+ack (durable ceiling)", durable},
		{"promobot webhook", rc},
	}
	urls := make([]string, len(targets))
	for i, tg := range targets {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: tg.handler}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		urls[i] = "http://" + ln.Addr().String() + "/webhook"
	}

	payloads := []struct {
		name, event string
		body        []byte
	}{
		{"push", "push", pushPayload()},
		{"pull_request", "pull_request", pullRequestPayload()},
	}
	dur := 4 * time.Second
	if cfg.quick {
		dur = time.Second
	}
	concurrencies := []int{1, 8, 32, 64}
	var seq atomic.Int64

	fmt.Printf("durable acknowledgement on (JetStream file storage); %s per run; 2 cores shared by client and server\n", dur)
	fmt.Printf("%-13s %4s  %-30s %10s %9s %9s %8s\n", "payload", "conc", "handler", "deliv/s", "p50", "p99", "ratio")
	for _, p := range payloads {
		for _, c := range concurrencies {
			var base [2]float64
			for i, tg := range targets {
				res := closedLoop(ctx, urls[i], p.event, p.body, c, dur, &seq)
				if res.errors > 0 {
					return fmt.Errorf("%s %s: %d requests failed", tg.name, p.name, res.errors)
				}
				ratio := ""
				switch i {
				case 0, 1:
					base[i] = res.rate
				case 2:
					ratio = fmt.Sprintf("%.2f/%.2f", res.rate/base[1], res.rate/base[0])
				}
				fmt.Printf("%-13s %4d  %-30s %10.0f %9s %9s %8s\n", fmt.Sprintf("%s %dKB", p.name, len(p.body)/1024), c, tg.name, res.rate, fmtDur(res.p50), fmtDur(res.p99), ratio)
			}
		}
	}
	fmt.Println("ratio = promobot / durable ceiling, promobot / bare HTTP")

	steady := 5 * time.Second
	if cfg.quick {
		steady = 2 * time.Second
	}
	fmt.Printf("\nsteady 1,000 deliveries/s for %s (push):\n", steady)
	for i, tg := range targets {
		res := openLoop(ctx, urls[i], "push", payloads[0].body, 1000, steady, &seq)
		if res.errors > 0 {
			return fmt.Errorf("%s steady: %d requests failed", tg.name, res.errors)
		}
		fmt.Printf("  %-30s sent %5d  p50 %9s  p99 %9s  max %9s\n", tg.name, res.n, fmtDur(res.p50), fmtDur(res.p99), fmtDur(res.max))
	}
	fmt.Println("targets: promobot >= 0.6 x durable ceiling throughput; p99 <= 5ms at 1,000/s")
	return nil
}

type loadResult struct {
	n             int
	errors        int
	rate          float64
	p50, p99, max time.Duration
}

func newClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, DisableCompression: true}}
}

func send(client *http.Client, url, event string, body []byte, seq *atomic.Int64) (time.Duration, bool) {
	id := "bench-" + strconv.FormatInt(seq.Add(1), 10)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set(webhook.HeaderEvent, event)
	req.Header.Set(webhook.HeaderDelivery, id)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(benchSecret, body))
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return time.Since(start), resp.StatusCode == http.StatusAccepted
}

// closedLoop runs conc senders back to back for dur.
func closedLoop(ctx context.Context, url, event string, body []byte, conc int, dur time.Duration, seq *atomic.Int64) loadResult {
	client := newClient(conc)
	defer client.CloseIdleConnections()
	// warm up connections
	for i := 0; i < conc; i++ {
		send(client, url, event, body, seq)
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			bad := 0
			for time.Now().Before(deadline) && ctx.Err() == nil {
				d, ok := send(client, url, event, body, seq)
				if !ok {
					bad++
					continue
				}
				local = append(local, d)
			}
			mu.Lock()
			lat = append(lat, local...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	return summarize(lat, errs, elapsed)
}

// openLoop sends at a fixed rate regardless of answers, as GitHub does.
func openLoop(ctx context.Context, url, event string, body []byte, rate int, dur time.Duration, seq *atomic.Int64) loadResult {
	client := newClient(64)
	defer client.CloseIdleConnections()
	for i := 0; i < 16; i++ {
		send(client, url, event, body, seq)
	}
	interval := time.Second / time.Duration(rate)
	total := int(dur / interval)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, total)
	errs := 0
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		next := start.Add(time.Duration(i) * interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, ok := send(client, url, event, body, seq)
			mu.Lock()
			if ok {
				lat = append(lat, d)
			} else {
				errs++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return summarize(lat, errs, time.Since(start))
}

func summarize(lat []time.Duration, errs int, elapsed time.Duration) loadResult {
	slices.Sort(lat)
	r := loadResult{n: len(lat), errors: errs, rate: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)*50/100]
		r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
		r.max = lat[len(lat)-1]
	}
	return r
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

// repository is a GitHub repository object as webhook payloads carry it
// (the bulk of a push payload's size).
func repository() map[string]any {
	r := map[string]any{
		"id": 123456789, "node_id": "R_kgDOHxxxxxx", "name": "cluster-config", "full_name": "my-org/cluster-config",
		"private": true, "html_url": "https://github.com/my-org/cluster-config", "description": "GitOps configuration for every cluster",
		"fork": false, "url": "https://api.github.com/repos/my-org/cluster-config", "created_at": 1700000000, "updated_at": "2026-11-20T10:00:00Z",
		"pushed_at": 1764000000, "git_url": "git://github.com/my-org/cluster-config.git", "ssh_url": "git@github.com:my-org/cluster-config.git",
		"clone_url": "https://github.com/my-org/cluster-config.git", "default_branch": "main", "master_branch": "main",
		"size": 2048, "stargazers_count": 3, "watchers_count": 3, "language": "YAML", "visibility": "private",
		"owner": map[string]any{"login": "my-org", "id": 9999, "type": "Organization", "html_url": "https://github.com/my-org", "avatar_url": "https://avatars.githubusercontent.com/u/9999?v=4"},
	}
	for _, k := range []string{"forks", "keys", "collaborators", "teams", "hooks", "issue_events", "events", "assignees", "branches", "tags", "blobs", "git_tags", "git_refs", "trees", "statuses", "languages", "stargazers", "contributors", "subscribers", "subscription", "commits", "git_commits", "comments", "issue_comment", "contents", "compare", "merges", "archive", "downloads", "issues", "pulls", "milestones", "notifications", "labels", "releases", "deployments"} {
		r[k+"_url"] = "https://api.github.com/repos/my-org/cluster-config/" + k + "{/id}"
	}
	return r
}

func user(login string) map[string]any {
	return map[string]any{"login": login, "id": 4242, "node_id": "U_kgDOxxxx", "type": "User", "site_admin": false,
		"html_url": "https://github.com/" + login, "avatar_url": "https://avatars.githubusercontent.com/u/4242?v=4",
		"url": "https://api.github.com/users/" + login, "repos_url": "https://api.github.com/users/" + login + "/repos"}
}

func commit(i int) map[string]any {
	return map[string]any{
		"id": fmt.Sprintf("%040x", i+1), "tree_id": fmt.Sprintf("%040x", i+100), "distinct": true,
		"message":   "Bump my-api-service staging image to 1.4." + strconv.Itoa(i) + "\n\nRolls out the new rate limiter.",
		"timestamp": "2026-11-26T04:00:00Z", "url": "https://github.com/my-org/cluster-config/commit/" + fmt.Sprintf("%040x", i+1),
		"author":    map[string]any{"name": "Dev Eloper", "email": "dev@example.com", "username": "dev"},
		"committer": map[string]any{"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
		"added":     []string{}, "removed": []string{}, "modified": []string{"kustomize/overlays/staging/kustomization.yaml"},
	}
}

// pushPayload is a push delivery of about 7 KB, shaped like GitHub's.
func pushPayload() []byte {
	commits := []any{commit(0), commit(1), commit(2), commit(3)}
	p := map[string]any{
		"ref": "refs/heads/main", "before": strings.Repeat("a", 40), "after": strings.Repeat("b", 40),
		"repository": repository(), "pusher": map[string]any{"name": "dev", "email": "dev@example.com"},
		"organization": map[string]any{"login": "my-org", "id": 9999}, "sender": user("dev"),
		"installation": map[string]any{"id": 77, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNzc="},
		"created":      false, "deleted": false, "forced": false, "base_ref": nil,
		"compare": "https://github.com/my-org/cluster-config/compare/aaaaaaa...bbbbbbb",
		"commits": commits, "head_commit": commits[2],
	}
	raw, _ := json.Marshal(p)
	return raw
}

// pullRequestPayload is a pull_request delivery of about 25 KB.
func pullRequestPayload() []byte {
	side := func(ref string) map[string]any {
		return map[string]any{"label": "my-org:" + ref, "ref": ref, "sha": strings.Repeat("c", 40), "user": user("my-org"), "repo": repository()}
	}
	pr := map[string]any{
		"number": 42, "state": "open", "locked": false, "title": "Bump my-api-service staging image to 1.4.0",
		"body": strings.Repeat("This change rolls out the new rate limiter to staging. ", 60),
		"user": user("dev"), "head": side("bump-staging"), "base": side("main"), "draft": false, "merged": false,
		"html_url": "https://github.com/my-org/cluster-config/pull/42", "diff_url": "https://github.com/my-org/cluster-config/pull/42.diff",
		"commits": 1, "additions": 1, "deletions": 1, "changed_files": 1, "requested_reviewers": []any{user("reviewer")},
		"labels": []any{map[string]any{"name": "staging", "color": "0e8a16"}},
	}
	for _, k := range []string{"commits", "review_comments", "review_comment", "comments", "statuses", "issue"} {
		pr[k+"_url"] = "https://api.github.com/repos/my-org/cluster-config/pulls/42/" + k
	}
	p := map[string]any{"action": "opened", "number": 42, "pull_request": pr, "repository": repository(),
		"organization": map[string]any{"login": "my-org", "id": 9999}, "sender": user("dev"), "installation": map[string]any{"id": 77}}
	raw, _ := json.Marshal(p)
	// Pad to the size of a typical PR delivery with a realistic field.
	for len(raw) < 25*1024 {
		pr["body"] = pr["body"].(string) + " Reviewers: check the rendered diff."
		p["pull_request"] = pr
		raw, _ = json.Marshal(p)
	}
	return raw
}
