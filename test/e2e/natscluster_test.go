package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/test/githubapi"
	"github.com/promobot/promobot/test/kit"
	"github.com/promobot/promobot/test/kube"
	"github.com/promobot/promobot/test/natscluster"
	"github.com/promobot/promobot/test/proc"
	"github.com/promobot/promobot/webhook"
)

// clusterStack is promobot scaled out as the README's "Scale out" says:
// two replicas of every role, each its own `promobot serve --roles <role>`
// process, on a three-node NATS cluster (so every stream and bucket has
// three replicas), with the local GitHub and a kube-apiserver. GitHub's
// webhooks reach the webhook replicas through a round-robin balancer, as a
// Service would spread them. Its embedded *stack gives the usual helpers;
// its own serve process is not started.
type clusterStack struct {
	*stack
	nats     *natscluster.Cluster
	replicas map[string][]*replica
	// rollouts simulates the workload controllers; pauseRollouts stops
	// it, so an apply waits on health as long as the test wants.
	rolloutsMu sync.Mutex
	rollouts   context.CancelFunc
}

// replica is one promobot serve process of one role.
type replica struct {
	role string
	i    int
	args []string
	p    *proc.Process
	url  string // its HTTP base
}

type clusterStackOptions struct {
	// githubURL is the --github-url of replica i of role; "" (or a nil
	// func) means the local GitHub's own.
	githubURL func(gh *githubapi.Server, role string, i int) string
}

var roles = []string{"webhook", "applier", "promoter"}

func startClusterStack(t *testing.T, opts clusterStackOptions) *clusterStack {
	t.Helper()
	ctx := context.Background()
	nc := natscluster.Start(t, 3)
	cs := &clusterStack{nats: nc, replicas: map[string][]*replica{}}
	home := kube.StartForTest(t)
	cs.resumeRollouts(home)
	t.Cleanup(cs.pauseRollouts)

	dir := t.TempDir()
	secret := randomHex(16)
	gh, err := githubapi.New(githubapi.Options{Dir: filepath.Join(dir, "github"), WebhookSecret: secret, AppSlug: "promobot",
		Events: []string{"push", "pull_request", "issue_comment", "status", "check_run"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := gh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gh.Close() })
	fixture := filepath.Join(dir, "fixture")
	if err := os.CopyFS(fixture, os.DirFS(fixtureDir(t))); err != nil {
		t.Fatal(err)
	}
	apps, _ := filepath.Glob(filepath.Join(fixture, "apps", "*.yaml"))
	for _, f := range apps {
		raw, _ := os.ReadFile(f)
		raw = bytes.ReplaceAll(raw, []byte("https://github.com/"+owner+"/"+repoName+".git"), []byte(gh.WebURL()+"/"+owner+"/"+repoName+".git"))
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := gh.CreateRepo(ctx, owner, repoName, fixture); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"app.pem": gh.AppPrivateKeyPEM(), "webhook-secret": []byte(secret)} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cs.stack = &stack{t: t, home: home, gh: gh, dir: dir, secret: secret, logs: &kit.Buffer{}}

	for _, role := range roles {
		for i := range 2 {
			ghURL := gh.URL()
			if opts.githubURL != nil {
				if u := opts.githubURL(gh, role, i); u != "" {
					ghURL = u
				}
			}
			addr := freeAddr(t)
			r := &replica{role: role, i: i, url: "http://" + addr, args: []string{"serve", "--roles", role,
				"--nats-url", nc.URL(), "--nats-nkey", nc.SeedFile,
				"--listen", addr, "--data-dir", filepath.Join(dir, fmt.Sprintf("%s-%d", role, i)),
				"--github-url", ghURL, "--app-id", fmt.Sprint(gh.AppID()), "--private-key-file", filepath.Join(dir, "app.pem"),
				"--webhook-secret-file", filepath.Join(dir, "webhook-secret"), "--kubeconfig", home.Kubeconfig,
				"--health-timeout", "30s", "--redelivery-interval", "0", "--drift-interval", "0",
				"--log-format", "text", "--log-level", "debug",
			}}
			cs.replicas[role] = append(cs.replicas[role], r)
			cs.start(r)
		}
	}
	t.Cleanup(func() {
		for _, role := range roles {
			for _, r := range cs.replicas[role] {
				_ = r.p.Kill()
				if t.Failed() {
					t.Logf("%s replica %d log tail:\n%s", r.role, r.i, r.p.LogTail())
					if keep := os.Getenv("PROMOBOT_E2E_KEEP_LOGS"); keep != "" {
						raw, _ := os.ReadFile(filepath.Join(cs.dir, fmt.Sprintf("%s-%d.log", r.role, r.i)))
						_ = os.WriteFile(filepath.Join(keep, fmt.Sprintf("%s-%s-%d.log", t.Name(), r.role, r.i)), raw, 0o644)
					}
				}
			}
		}
	})
	lb := httptest.NewServer(cs.balancer())
	t.Cleanup(lb.Close)
	gh.SetWebhookURL(lb.URL + "/webhook")

	cs.nc = nc.Connect(t)
	cs.js, _ = jetstream.New(cs.nc)
	if _, err := gh.Install(ctx, owner, repoName); err != nil {
		t.Fatal(err)
	}
	return cs
}

// start runs r and waits until it is ready.
func (cs *clusterStack) start(r *replica) {
	t := cs.t
	t.Helper()
	p, err := proc.Start(fmt.Sprintf("promobot %s %d", r.role, r.i), promobotBin,
		filepath.Join(cs.dir, fmt.Sprintf("%s-%d.log", r.role, r.i)), r.args)
	if err != nil {
		t.Fatal(err)
	}
	r.p = p
	kit.Eventually(t, 30*time.Second, fmt.Sprintf("%s replica %d ready", r.role, r.i), func() (bool, string) {
		if !p.Running() {
			t.Fatalf("%s replica %d exited (%v):\n%s", r.role, r.i, p.Err(), p.LogTail())
		}
		resp, err := http.Get(r.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

// balancer spreads requests over the running webhook replicas in turn.
func (cs *clusterStack) balancer() http.Handler {
	var next atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reps := cs.replicas["webhook"]
		for range reps {
			rep := reps[next.Add(1)%uint64(len(reps))]
			if rep.p == nil || !rep.p.Running() {
				continue
			}
			u, _ := url.Parse(rep.url)
			httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
			return
		}
		http.Error(w, "no webhook replica running", http.StatusBadGateway)
	})
}

func (cs *clusterStack) pauseRollouts() {
	cs.rolloutsMu.Lock()
	defer cs.rolloutsMu.Unlock()
	if cs.rollouts != nil {
		cs.rollouts()
		cs.rollouts = nil
	}
}

func (cs *clusterStack) resumeRollouts(home *kube.Cluster) {
	cs.rolloutsMu.Lock()
	defer cs.rolloutsMu.Unlock()
	if cs.rollouts != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cs.rollouts = cancel
	go kube.RollOut(ctx, home.Client, 100*time.Millisecond)
}

// streamLeader is the index of the node leading stream.
func (cs *clusterStack) streamLeader(stream string) int {
	cs.t.Helper()
	s, err := cs.js.Stream(context.Background(), stream)
	if err != nil {
		cs.t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		cs.t.Fatal(err)
	}
	for i := range cs.nats.URLs {
		if info.Cluster != nil && info.Cluster.Leader == fmt.Sprintf("n%d", i) {
			if len(info.Cluster.Replicas) != 2 {
				cs.t.Fatalf("stream %s has replicas %+v, want 2 besides its leader", stream, info.Cluster.Replicas)
			}
			return i
		}
	}
	cs.t.Fatalf("stream %s cluster %+v: no leader among the nodes", stream, info.Cluster)
	return -1
}

// waitStreamCurrent waits until stream has a leader and two replicas, both
// current: every node holds all of it again.
func (cs *clusterStack) waitStreamCurrent(stream string) {
	cs.t.Helper()
	kit.Eventually(cs.t, time.Minute, "stream "+stream+" current on every node", func() (bool, string) {
		s, err := cs.js.Stream(context.Background(), stream)
		if err != nil {
			return false, err.Error()
		}
		info, err := s.Info(context.Background())
		if err != nil {
			return false, err.Error()
		}
		if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return false, fmt.Sprintf("cluster %+v", info.Cluster)
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false, fmt.Sprintf("replica %+v", *r)
			}
		}
		return true, ""
	})
}

// stored returns the messages of stream on subjects matching filter,
// read one by one by sequence. (An ordered consumer, which kit.Facts
// reads with, may be answered "no responders" part way on a cluster.)
func stored(t *testing.T, js jetstream.JetStream, stream, filter string) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("%s message %d: %v", stream, seq, err)
		}
		if subjectMatches(filter, msg.Subject) {
			out = append(out, msg)
		}
	}
	return out
}

// msgIDs counts the messages of stream on subjects matching filter by
// their Nats-Msg-Id.
func msgIDs(t *testing.T, js jetstream.JetStream, stream, filter string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, m := range stored(t, js, stream, filter) {
		ids[m.Header.Get(nats.MsgIdHdr)]++
	}
	return ids
}

// facts returns the data of every promobot fact on subjects matching
// filter, oldest first, as stack.facts does.
func (cs *clusterStack) facts(filter string) []map[string]any {
	cs.t.Helper()
	var out []map[string]any
	for _, m := range stored(cs.t, cs.js, events.StreamFacts, filter) {
		ev, err := events.Decode(m.Header, m.Data)
		if err != nil {
			cs.t.Fatalf("fact on %s: %v", m.Subject, err)
		}
		f := map[string]any{}
		_ = json.Unmarshal(ev.Data(), &f)
		f["_subject"], f["_type"] = m.Subject, ev.Type()
		out = append(out, f)
	}
	return out
}

// subjectMatches reports whether a NATS subject matches filter, whose
// last token may be ">".
func subjectMatches(filter, subject string) bool {
	prefix, wild := strings.CutSuffix(filter, ">")
	if !wild {
		return filter == subject
	}
	return strings.HasPrefix(subject, prefix)
}

// kill sends SIGKILL to r: no shutdown, nothing acknowledged or released.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	if err := r.p.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s replica %d (pid %d)", r.role, r.i, r.p.PID())
}

// owning is the replica of role whose process id is pid.
func (cs *clusterStack) owning(role string, pid int) *replica {
	for _, r := range cs.replicas[role] {
		if r.p.PID() == pid {
			return r
		}
	}
	return nil
}

// TestNATSNodeKilledUnderWebhookLoad sends 300 signed deliveries at a
// steady rate to the two webhook replicas, alternately, and kills with
// SIGKILL the NATS node leading the GITHUB stream a third of the way in.
// Every delivery answered 2xx is on the stream exactly once, at least 95 %
// are answered 2xx during the failover, and redelivering the others (as
// GitHub's redelivery would, with the same GUID) stores each once too.
func TestNATSNodeKilledUnderWebhookLoad(t *testing.T) {
	cs := startClusterStack(t, clusterStackOptions{})
	cs.waitInitialSync()
	inst := cs.gh.InstallationID(owner)

	const total, every = 300, 20 * time.Millisecond
	ids := make([]string, total)
	codes := make([]int, total)
	took := make([]time.Duration, total)
	for i := range ids {
		ids[i] = fmt.Sprintf("load-%s-%03d", randomHex(4), i)
	}
	// GitHub waits 10 s for an answer.
	client := &http.Client{Timeout: 10 * time.Second}
	send := func(i int) {
		body := fmt.Sprintf(`{"action":"deleted","comment":{"id":%d,"body":"load"},"issue":{"number":1},`+
			`"repository":{"name":%q,"full_name":%q,"owner":{"login":%q},"html_url":%q},"installation":{"id":%d},"sender":{"login":"dev","id":7}}`,
			i+1, repoName, owner+"/"+repoName, owner, cs.gh.WebURL()+"/"+owner+"/"+repoName, inst)
		rep := cs.replicas["webhook"][i%2]
		req, _ := http.NewRequest(http.MethodPost, rep.url+"/webhook", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "issue_comment")
		req.Header.Set("X-GitHub-Delivery", ids[i])
		req.Header.Set("X-Hub-Signature-256", webhook.Sign([]byte(cs.secret), []byte(body)))
		sent := time.Now()
		resp, err := client.Do(req)
		took[i] = time.Since(sent)
		if err != nil {
			codes[i] = -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[i] = resp.StatusCode
	}

	leader := cs.streamLeader(events.StreamGitHub)
	var wg sync.WaitGroup
	tick := time.NewTicker(every)
	start := time.Now()
	var killedAt time.Duration
	for i := range total {
		<-tick.C
		if i == total/3 {
			cs.nats.Kill(leader)
			killedAt = time.Since(start)
			t.Logf("killed NATS node n%d, the GITHUB stream's leader, after %d deliveries (%s)", leader, i, killedAt.Round(time.Millisecond))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			send(i)
		}()
	}
	tick.Stop()
	wg.Wait()
	ok := 0
	var failed []int
	for i, c := range codes {
		if c >= 200 && c < 300 {
			ok++
		} else {
			failed = append(failed, i)
		}
	}
	ratio := float64(ok) / total
	t.Logf("answered 2xx: %d of %d (%.1f %%) over %s, the node killed at %s; others: %v; slowest answer %s",
		ok, total, 100*ratio, time.Since(start).Round(time.Millisecond), killedAt.Round(time.Millisecond), codesOf(codes, failed),
		slices.Max(took).Round(time.Millisecond))
	if ratio < 0.95 {
		t.Errorf("%.1f %% of deliveries answered 2xx during the failover, want at least 95 %%", 100*ratio)
	}
	if newLeader := cs.streamLeader(events.StreamGitHub); newLeader == leader {
		t.Errorf("the GITHUB stream is led by the killed node n%d", leader)
	}

	// The node comes back; the deliveries that failed are redelivered.
	cs.nats.Restart(leader)
	for _, i := range failed {
		send(i)
		if codes[i] < 200 || codes[i] >= 300 {
			t.Errorf("redelivery of %s answered %d", ids[i], codes[i])
		}
	}
	cs.waitStreamCurrent(events.StreamGitHub)
	stored := msgIDs(t, cs.js, events.StreamGitHub, "github.issue_comment.>")
	for i, id := range ids {
		if n := stored[id]; n != 1 {
			t.Errorf("delivery %d (%s, first answered %d) is on the stream %d times, want once", i, id, codes[i], n)
		}
		delete(stored, id)
	}
	if len(stored) != 0 {
		t.Errorf("the stream holds deliveries no one sent: %v", stored)
	}
}

// codesOf lists the answers of the deliveries at idx.
func codesOf(codes []int, idx []int) map[int]int {
	out := map[int]int{}
	for _, i := range idx {
		out[codes[i]]++
	}
	return out
}

// stagingFacts returns the staging app's apply facts as "verb commit".
func (cs *clusterStack) stagingFacts() []string {
	var out []string
	for _, f := range cs.facts("promobot.apply.>") {
		if f["app"] == stagingApp {
			out = append(out, strings.TrimPrefix(fmt.Sprint(f["_type"]), "dev.promobot.apply.")+" "+fmt.Sprint(f["commit"]))
		}
	}
	return out
}

// leaseHolder returns the process id holding the lease named name, 0 when
// it is free.
func (cs *clusterStack) leaseHolder(name string) (int, error) {
	kv, err := cs.js.KeyValue(context.Background(), events.BucketLocks)
	if err != nil {
		return 0, err
	}
	e, err := kv.Get(context.Background(), events.KVKey("lock", name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var v struct{ Owner string }
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return 0, err
	}
	parts := strings.Split(v.Owner, "/") // host/pid/id
	if len(parts) != 3 {
		return 0, fmt.Errorf("lease owner %q", v.Owner)
	}
	return strconv.Atoi(parts[1])
}

// TestApplierReplicaKilledMidApply kills with SIGKILL the applier replica
// that is applying a push (the Deployment's new spec is in the cluster,
// its rollout not yet healthy, the app's lease held by that process), and
// pushes again at once. The other replica finishes both pushes, and the
// older never overwrites the newer: staging ends at the newest, whose apply
// completes last.
func TestApplierReplicaKilledMidApply(t *testing.T) {
	cs := startClusterStack(t, clusterStackOptions{})
	cs.waitInitialSync()
	ctx := context.Background()
	c := cs.home.Client

	cs.pauseRollouts()
	older, err := cs.gh.Push(ctx, owner, repoName, "main", githubapi.Commit{Message: "bump 1.4.0", Files: cs.bumpOverlay("staging", "1.4.0")})
	if err != nil {
		t.Fatal(err)
	}
	cs.waitDeployment(c, "staging", api, "applied at 1.4.0", func(d *appsv1.Deployment) bool { return image(d) == imageRepo+":1.4.0" })
	var holder *replica
	kit.Eventually(t, 30*time.Second, "an applier replica holding the staging app's lease", func() (bool, string) {
		pid, err := cs.leaseHolder(owner + "/" + repoName + "/" + stagingApp)
		if err != nil {
			return false, err.Error()
		}
		holder = cs.owning("applier", pid)
		return holder != nil, fmt.Sprintf("held by pid %d", pid)
	})
	if d, _ := deployment(c, "staging", api); d.Status.UpdatedReplicas != 0 && d.Status.ObservedGeneration == d.Generation {
		t.Fatalf("the rollout of 1.4.0 is done before the kill: the apply is not in progress")
	}
	holder.kill(t)
	killed := time.Now()
	newer, err := cs.gh.Push(ctx, owner, repoName, "main", githubapi.Commit{Message: "bump 1.5.0", Files: cs.bumpOverlay("staging", "1.5.0")})
	if err != nil {
		t.Fatal(err)
	}
	cs.resumeRollouts(cs.home)

	kit.Eventually(t, time.Minute, "the newer push applied by the other replica", func() (bool, string) {
		got := cs.stagingFacts()
		return slices.Contains(got, "completed "+newer), strings.Join(got, ", ")
	})
	t.Logf("the newer push completed %s after the kill", time.Since(killed).Round(time.Millisecond))
	cs.waitSettled("applier")
	got := cs.stagingFacts()
	finished := slices.Contains(got, "completed "+older) || slices.Contains(got, "skipped "+older)
	if !finished {
		t.Errorf("the killed replica's push %s was not finished by the other: facts %v", older[:7], got)
	}
	var completed []string
	for _, f := range got {
		if c, ok := strings.CutPrefix(f, "completed "); ok {
			completed = append(completed, c)
		}
	}
	if completed[len(completed)-1] != newer {
		t.Errorf("staging applies completed in order %v; the last must be the newest push %s", completed, newer[:7])
	}
	if d, _ := deployment(c, "staging", api); image(d) != imageRepo+":1.5.0" {
		t.Errorf("staging runs %s, want the newest push's 1.5.0", image(d))
	}
}

// holdingGitHub is the local GitHub as one promoter replica sees it: every
// call passes through, except that while holding, a request to open a
// pull request waits (it is a fault no real GitHub shows on demand: a call
// slow enough to kill its caller during it). It reports the first held
// request on held, and on abandoned when its caller went away.
type holdingGitHub struct {
	replica   int
	holding   atomic.Bool
	release   chan struct{}
	held      chan int
	abandoned chan int
	srv       *httptest.Server
}

func newHoldingGitHub(t *testing.T, gh *githubapi.Server, replica int, held, abandoned chan int, release chan struct{}) *holdingGitHub {
	target, err := url.Parse(gh.URL())
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	proxy := httputil.NewSingleHostReverseProxy(target)
	h := &holdingGitHub{replica: replica, release: release, held: held, abandoned: abandoned}
	h.holding.Store(true)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/"+owner+"/"+repoName+"/pulls") && h.holding.Load() {
			// Read the body first: the server notices a caller that went
			// away (and cancels the request's context) only once it has.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			select {
			case h.held <- h.replica:
			default:
			}
			select {
			case <-h.release:
			case <-r.Context().Done():
				select {
				case h.abandoned <- h.replica:
				default:
				}
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// TestPromoterReplicaKilledBetweenBranchAndPullRequest: the promoter
// replica handling a /promote is killed with SIGKILL after it created the
// promotion branch and before GitHub answered its request to open the pull
// request (that request is held until the kill, then dropped). The
// command is redelivered to the other replica, which completes it with
// exactly one pull request.
func TestPromoterReplicaKilledBetweenBranchAndPullRequest(t *testing.T) {
	held, abandoned := make(chan int, 4), make(chan int, 4)
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseAll() // whatever happens, no request stays held
	proxies := map[int]*holdingGitHub{}
	cs := startClusterStack(t, clusterStackOptions{githubURL: func(gh *githubapi.Server, role string, i int) string {
		if role != "promoter" {
			return ""
		}
		proxies[i] = newHoldingGitHub(t, gh, i, held, abandoned, release)
		return proxies[i].srv.URL + "/api/v3/"
	}})
	cs.addUsers()
	cs.waitInitialSync()
	ctx := context.Background()

	n := cs.openChange("bump-staging", "Bump staging to 1.1.0", cs.bumpOverlay("staging", "1.1.0"))
	sha := cs.merge(n)
	kit.Eventually(t, time.Minute, "staging applied at the merge", func() (bool, string) {
		got := cs.stagingFacts()
		return slices.Contains(got, "completed "+sha), strings.Join(got, ", ")
	})
	id, err := cs.gh.Comment(ctx, owner, repoName, n, maintainer, "/promote")
	if err != nil {
		t.Fatal(err)
	}
	var k int
	select {
	case k = <-held:
	case <-time.After(time.Minute):
		t.Fatal("no promoter replica asked GitHub to open the pull request")
	}
	branches, err := cs.gh.Branches(ctx, owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := branches[promotionBranch]; !ok {
		t.Fatalf("the pull request was asked for before the branch %s was created: %v", promotionBranch, branches)
	}
	victim := cs.replicas["promoter"][k]
	victim.kill(t)
	killed := time.Now()
	select {
	case got := <-abandoned:
		if got != k {
			t.Fatalf("replica %d's held request was dropped, want the killed replica %d's", got, k)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the killed replica's request to open the pull request is still waiting")
	}
	for _, p := range proxies {
		p.holding.Store(false)
	}
	releaseAll()

	pr := cs.waitPromotionPR("1.1.0")
	cs.waitReaction(id, "rocket")
	t.Logf("the other replica opened #%d %s after the kill", pr.Number, time.Since(killed).Round(time.Millisecond))
	cs.waitSettled("promoter")
	prs, err := cs.gh.PRs(owner, repoName)
	if err != nil {
		t.Fatal(err)
	}
	var promotions []int
	for _, p := range prs {
		if p.Head == promotionBranch {
			promotions = append(promotions, p.Number)
		}
	}
	if diff := cmp.Diff([]int{pr.Number}, promotions); diff != "" {
		t.Errorf("pull requests from %s (-want +got):\n%s", promotionBranch, diff)
	}
	var opened int
	for _, f := range cs.facts("promobot.promotion.>") {
		if f["_type"] == "dev.promobot.promotion.opened" {
			opened++
		}
	}
	if opened != 1 {
		t.Errorf("%d promotion.opened facts, want 1", opened)
	}
}
