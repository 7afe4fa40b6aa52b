package githubapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/google/uuid"
)

// hookID is the id of the App's single webhook.
const hookID = 1

// Delivery is one attempted webhook delivery, as the deliveries API reports
// it.
type Delivery struct {
	ID          int64
	GUID        string
	Event       string
	Action      string
	Redelivery  bool
	StatusCode  int    // 0 when the receiver could not be reached
	Status      string // "OK" for 2xx
	Duration    time.Duration
	DeliveredAt time.Time
	Payload     []byte
	Header      http.Header // request headers sent
}

// delivery is a webhook queued or attempted.
type delivery struct {
	id         int64
	guid       string
	event      string
	action     string
	instID     int64
	repoID     int64
	payload    []byte
	redelivery bool

	url         string
	deliveredAt time.Time
	duration    time.Duration
	status      string
	statusCode  int
	reqHeader   http.Header
	respHeader  http.Header
	respBody    string
}

type hookState struct {
	s       *Server
	mu      sync.Mutex
	wake    chan struct{}
	url     string
	nextID  int64
	records []*delivery // attempted, oldest first
	queue   []*delivery
	busy    int
	stopped bool
	client  *http.Client
	done    chan struct{}
	reorder *reorderer // nil sends in order
}

func (h *hookState) init(s *Server) {
	h.s = s
	h.url = s.opts.WebhookURL
	h.nextID = 90000000
	h.wake = make(chan struct{}, 1)
	h.done = make(chan struct{})
	h.client = &http.Client{Timeout: 10 * time.Second}
	h.reorder = newReorderer(s.opts.Reorder)
	go h.worker()
}

// SetWebhookURL changes where webhooks go (e.g. once the receiver under test
// is listening); "" stops sending.
func (s *Server) SetWebhookURL(url string) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.url = url
}

// WaitDeliveries waits until every queued webhook has been attempted.
func (s *Server) WaitDeliveries(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		if s.DeliveriesIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for webhook deliveries: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// DeliveriesIdle reports whether no webhook is queued or being sent now.
func (s *Server) DeliveriesIdle() bool {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	return len(s.hooks.queue) == 0 && s.hooks.busy == 0
}

// Deliveries returns every attempted delivery, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	out := make([]Delivery, 0, len(s.hooks.records))
	for _, d := range s.hooks.records {
		out = append(out, Delivery{
			ID: d.id, GUID: d.guid, Event: d.event, Action: d.action, Redelivery: d.redelivery,
			StatusCode: d.statusCode, Status: d.status, Duration: d.duration, DeliveredAt: d.deliveredAt,
			Payload: d.payload, Header: d.reqHeader.Clone(),
		})
	}
	return out
}

// AgeDeliveries moves the time of every delivery attempted so far d into
// the past, as if d had passed since: a test of what GitHub shows about
// deliveries a minute old (the redelivery sweep's grace) need not wait
// the minute.
func (s *Server) AgeDeliveries(d time.Duration) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	for _, r := range s.hooks.records {
		r.deliveredAt = r.deliveredAt.Add(-d)
	}
}

// newDelivery assigns a delivery id (GUIDs are chosen by the caller).
func (h *hookState) newDelivery(d *delivery) *delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.nextID++
	d.id = h.nextID
	return d
}

// send delivers (SyncWebhooks) or queues the deliveries, in order, or
// sends them reordered and overlapping (Reorder).
func (h *hookState) send(ds []*delivery) {
	if len(ds) == 0 {
		return
	}
	h.mu.Lock()
	if r := h.reorder; r != nil {
		if !h.stopped {
			h.sendReordered(r, ds)
		}
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	if h.s.opts.SyncWebhooks {
		for _, d := range ds {
			h.mu.Lock()
			h.busy++
			h.mu.Unlock()
			h.attempt(d)
			h.mu.Lock()
			h.busy--
			h.mu.Unlock()
		}
		return
	}
	h.mu.Lock()
	if !h.stopped {
		h.queue = append(h.queue, ds...)
	}
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hookState) worker() {
	defer close(h.done)
	for {
		h.mu.Lock()
		if len(h.queue) == 0 {
			stopped := h.stopped
			h.mu.Unlock()
			if stopped {
				return
			}
			<-h.wake
			continue
		}
		d := h.queue[0]
		h.queue = h.queue[1:]
		h.busy++
		h.mu.Unlock()
		h.attempt(d)
		h.mu.Lock()
		h.busy--
		h.mu.Unlock()
	}
}

// stop attempts what is queued (bounded) and ends the worker.
func (h *hookState) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_ = h.s.WaitDeliveries(ctx)
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
	<-h.done
}

// attempt POSTs one delivery and records the outcome.
func (h *hookState) attempt(d *delivery) {
	h.mu.Lock()
	url := h.url
	h.mu.Unlock()
	if url == "" {
		return
	}
	s := h.s
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(d.payload))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/promobot-local")
	req.Header.Set("X-GitHub-Event", d.event)
	req.Header.Set("X-GitHub-Delivery", d.guid)
	req.Header.Set("X-GitHub-Hook-ID", strconv.Itoa(hookID))
	req.Header.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(s.opts.AppID, 10))
	req.Header.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
	if s.opts.WebhookSecret != "" {
		m1 := hmac.New(sha1.New, []byte(s.opts.WebhookSecret))
		m1.Write(d.payload)
		req.Header.Set("X-Hub-Signature", "sha1="+hex.EncodeToString(m1.Sum(nil)))
		m256 := hmac.New(sha256.New, []byte(s.opts.WebhookSecret))
		m256.Write(d.payload)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m256.Sum(nil)))
	}
	d.url = url
	d.reqHeader = req.Header.Clone()
	d.deliveredAt = now()
	start := time.Now()
	resp, err := h.client.Do(req)
	d.duration = time.Since(start)
	switch {
	case err != nil:
		var nerr net.Error
		if errors.As(err, &nerr) && nerr.Timeout() {
			d.status = "timed out"
		} else {
			d.status = "failed to connect to host"
		}
	default:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		d.statusCode = resp.StatusCode
		d.respHeader = resp.Header.Clone()
		d.respBody = string(body)
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			d.status = "OK"
		} else {
			d.status = fmt.Sprintf("Invalid HTTP Response: %d", resp.StatusCode)
		}
	}
	h.mu.Lock()
	h.records = append(h.records, d)
	h.mu.Unlock()
}

func (h *hookState) find(id int64) *delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.records {
		if d.id == id {
			return d
		}
	}
	return nil
}

// ---- emitting ----

// subscribed reports whether the App receives event.
func (s *Server) subscribed(event string) bool {
	if event == "installation" || event == "installation_repositories" {
		return true
	}
	for _, e := range s.opts.Events {
		if e == event {
			return true
		}
	}
	return false
}

// emit queues a webhook for a repository event (nothing when the App is not
// installed on the repository or not subscribed to the event). Called with
// s.mu held; the caller sends out after unlocking.
func (s *Server) emit(out *[]*delivery, r *repo, event, action string, payload any) {
	if r != nil && r.inst == nil {
		return
	}
	if !s.subscribed(event) {
		return
	}
	data, err := json.Marshal(payload)
	if err != nil {
		s.log.Error("marshal webhook payload", "event", event, "err", err)
		return
	}
	d := &delivery{guid: uuid.NewString(), event: event, action: action, payload: data}
	if r != nil {
		d.instID, d.repoID = r.inst.id, r.id
	}
	*out = append(*out, s.hooks.newDelivery(d))
}

// shaped is a webhook payload built from a go-github event whose objects
// are replaced by the REST shapes the server answers with (parts, by JSON
// key; a nil part is left out), so that a payload has every field GitHub
// sends, null where GitHub sends null, which go-github's omitempty drops.
type shaped struct {
	event any
	parts map[string]any
}

// MarshalJSON implements json.Marshaler.
func (p shaped) MarshalJSON() ([]byte, error) {
	raw, err := json.Marshal(p.event)
	if err != nil {
		return nil, err
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for k, v := range p.parts {
		if rv := reflect.ValueOf(v); v == nil || (rv.Kind() == reflect.Pointer && rv.IsNil()) {
			delete(m, k)
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[k] = b
	}
	return json.Marshal(m)
}

// repoParts are the objects every repository webhook carries.
func (s *Server) repoParts(r *repo, sender *account) map[string]any {
	return map[string]any{
		"repository": s.repoJSON(r), "sender": s.userJSON(sender), "organization": s.orgJSON(r),
		"installation": installationRefJSON{ID: r.inst.id, NodeID: nodeID("IN", r.inst.id)},
	}
}

// emitPull queues a pull_request event.
func (s *Server) emitPull(out *[]*delivery, r *repo, is *issue, action string, sender *account, mod func(*gh.PullRequestEvent)) {
	if r.inst == nil || !s.subscribed("pull_request") {
		return
	}
	ev := &gh.PullRequestEvent{Action: &action, Number: &is.number}
	if mod != nil {
		mod(ev)
	}
	parts := s.repoParts(r, sender)
	parts["pull_request"] = s.pullJSON(r, is, s.pullDetail(context.Background(), r, is))
	if ev.Label != nil {
		if l := r.labels[strings.ToLower(ev.GetLabel().GetName())]; l != nil {
			parts["label"] = s.labelJSON(r, l)
		}
	}
	s.emit(out, r, "pull_request", action, shaped{ev, parts})
}

// emitComment queues an issue_comment event.
func (s *Server) emitComment(out *[]*delivery, r *repo, is *issue, cm *comment, action string, sender *account, changes *gh.EditChange) {
	if r.inst == nil || !s.subscribed("issue_comment") {
		return
	}
	ev := &gh.IssueCommentEvent{Action: &action, Changes: changes}
	parts := s.repoParts(r, sender)
	parts["issue"], parts["comment"] = s.issueJSON(r, is), s.commentJSON(cm)
	s.emit(out, r, "issue_comment", action, shaped{ev, parts})
}

// pushEventJSON is a push webhook as GitHub sends it (webhook-push in
// GitHub's description): commits is always an array, head_commit and
// base_ref are null rather than absent.
type pushEventJSON struct {
	Ref          string               `json:"ref"`
	Before       string               `json:"before"`
	After        string               `json:"after"`
	Repository   *pushRepoJSON        `json:"repository"`
	Pusher       pushCommitAuthorJSON `json:"pusher"`
	Organization *orgJSON             `json:"organization,omitempty"`
	Sender       *userJSON            `json:"sender"`
	Installation installationRefJSON  `json:"installation"`
	Created      bool                 `json:"created"`
	Deleted      bool                 `json:"deleted"`
	Forced       bool                 `json:"forced"`
	BaseRef      *string              `json:"base_ref"`
	Compare      string               `json:"compare"`
	Commits      []*pushCommitJSON    `json:"commits"`
	HeadCommit   *pushCommitJSON      `json:"head_commit"`
}

// pushRepoJSON is the repository of a push webhook: the REST shape, with
// created_at and pushed_at as Unix seconds and the legacy stargazers and
// master_branch fields.
type pushRepoJSON struct {
	*repoJSON
	CreatedAt    int64  `json:"created_at"`
	PushedAt     int64  `json:"pushed_at"`
	Stargazers   int    `json:"stargazers"`
	MasterBranch string `json:"master_branch"`
	Organization string `json:"organization,omitempty"`
}

// pushCommitJSON is one commit of a push webhook.
type pushCommitJSON struct {
	ID        string               `json:"id"`
	TreeID    string               `json:"tree_id"`
	Distinct  bool                 `json:"distinct"`
	Message   string               `json:"message"`
	Timestamp string               `json:"timestamp"`
	URL       string               `json:"url"`
	Author    pushCommitAuthorJSON `json:"author"`
	Committer pushCommitAuthorJSON `json:"committer"`
	Added     []string             `json:"added"`
	Removed   []string             `json:"removed"`
	Modified  []string             `json:"modified"`
}

// pushCommitAuthorJSON is a git identity in a push webhook; username is
// the GitHub login of the account the email belongs to, when there is one.
type pushCommitAuthorJSON struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Username string `json:"username,omitempty"`
}

// installationRefJSON is the installation of a repository webhook.
type installationRefJSON struct {
	ID     int64  `json:"id"`
	NodeID string `json:"node_id"`
}

// orgJSON is the organization of a webhook.
type orgJSON struct {
	Login            string  `json:"login"`
	ID               int64   `json:"id"`
	NodeID           string  `json:"node_id"`
	URL              string  `json:"url"`
	ReposURL         string  `json:"repos_url"`
	EventsURL        string  `json:"events_url"`
	HooksURL         string  `json:"hooks_url"`
	IssuesURL        string  `json:"issues_url"`
	MembersURL       string  `json:"members_url"`
	PublicMembersURL string  `json:"public_members_url"`
	AvatarURL        string  `json:"avatar_url"`
	Description      *string `json:"description"`
}

func (s *Server) orgJSON(r *repo) *orgJSON {
	a := r.owner
	if a.kind != "Organization" {
		return nil
	}
	return &orgJSON{
		Login: a.login, ID: a.id, NodeID: nodeID("O", a.id), URL: s.api("/orgs/%s", a.login),
		ReposURL: s.api("/orgs/%s/repos", a.login), EventsURL: s.api("/orgs/%s/events", a.login),
		HooksURL: s.api("/orgs/%s/hooks", a.login), IssuesURL: s.api("/orgs/%s/issues", a.login),
		MembersURL: s.api("/orgs/%s/members{/member}", a.login), PublicMembersURL: s.api("/orgs/%s/public_members{/member}", a.login),
		AvatarURL: s.web("/avatars/u/%d?v=4", a.id),
	}
}

// maxPushCommits is how many commits a push webhook lists (webhook-push:
// "The array includes a maximum of 2048 commits"). The 20-commit cap of
// GitHub's documentation applies to timeline events, not to webhooks.
const maxPushCommits = 2048

// emitPush queues a push event for ref moving from before to after.
func (s *Server) emitPush(ctx context.Context, out *[]*delivery, r *repo, ref, before, after string, pusher *account, forced bool) {
	if r.inst == nil || !s.subscribed("push") {
		return
	}
	g := r.git
	var shas []string
	if after != zeroSHA {
		if before != zeroSHA {
			shas, _ = g.revList(ctx, after, before)
		} else {
			var exclude []string
			refs, _ := g.refs(ctx, "refs/heads/")
			for _, rf := range refs {
				if rf[0] != ref {
					exclude = append(exclude, rf[1])
				}
			}
			shas, _ = g.revList(ctx, after, exclude...)
		}
	}
	if len(shas) > maxPushCommits {
		shas = shas[len(shas)-maxPushCommits:]
	}
	commits := []*pushCommitJSON{}
	for _, sha := range shas {
		if hc := s.pushCommit(ctx, r, sha); hc != nil {
			commits = append(commits, hc)
		}
	}
	var head *pushCommitJSON
	if after != zeroSHA {
		head = s.pushCommit(ctx, r, after)
	}
	created, deleted := before == zeroSHA, after == zeroSHA
	compare := s.web("/%s/compare/%s...%s", r.fullName(), short(before), short(after))
	if created {
		compare = s.web("/%s/commit/%s", r.fullName(), short(after))
	}
	repoEv := &pushRepoJSON{repoJSON: s.repoJSON(r), CreatedAt: r.createdAt.Unix(), PushedAt: r.pushedAt.Unix(),
		MasterBranch: r.defaultBranch}
	if r.owner.kind == "Organization" {
		repoEv.Organization = r.owner.login
	}
	ev := &pushEventJSON{
		Ref: ref, Before: before, After: after, Created: created, Deleted: deleted, Forced: forced,
		Compare: compare, Commits: commits, HeadCommit: head, Repository: repoEv,
		Pusher: pushCommitAuthorJSON{Name: pusher.login, Email: pusher.email}, Sender: s.userJSON(pusher),
		Installation: installationRefJSON{ID: r.inst.id, NodeID: nodeID("IN", r.inst.id)}, Organization: s.orgJSON(r),
	}
	s.emit(out, r, "push", "", ev)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// pushCommit is commit sha as a push webhook lists it, nil when it cannot
// be read.
func (s *Server) pushCommit(ctx context.Context, r *repo, sha string) *pushCommitJSON {
	c, err := r.git.readCommit(ctx, sha)
	if err != nil {
		return nil
	}
	added, removed, modified, err := r.git.changedPaths(ctx, c)
	if err != nil {
		return nil
	}
	// webhook-push: "A maximum of 3000 changed files will be reported per
	// commit."
	room := MaxCommitFiles
	nonNil := func(p []string) []string {
		p = p[:min(len(p), room)]
		room -= len(p)
		if p == nil {
			return []string{}
		}
		return p
	}
	return &pushCommitJSON{
		ID: c.SHA, TreeID: c.Tree, Distinct: true, Message: c.Message, Timestamp: c.Committer.When.Format(time.RFC3339),
		URL: s.web("/%s/commit/%s", r.fullName(), sha), Author: s.pushCommitAuthor(c.Author), Committer: s.pushCommitAuthor(c.Committer),
		Added: nonNil(added), Removed: nonNil(removed), Modified: nonNil(modified),
	}
}

func (s *Server) pushCommitAuthor(id identity) pushCommitAuthorJSON {
	ca := pushCommitAuthorJSON{Name: id.Name, Email: id.Email}
	if a := s.accountByEmail(id.Email); a != nil {
		ca.Username = a.login
	}
	return ca
}

// ---- deliveries API ----

type deliveryItemJSON struct {
	ID             int64     `json:"id"`
	GUID           string    `json:"guid"`
	DeliveredAt    time.Time `json:"delivered_at"`
	Redelivery     bool      `json:"redelivery"`
	Duration       float64   `json:"duration"`
	Status         string    `json:"status"`
	StatusCode     int       `json:"status_code"`
	Event          string    `json:"event"`
	Action         *string   `json:"action"`
	InstallationID *int64    `json:"installation_id"`
	RepositoryID   *int64    `json:"repository_id"`
	ThrottledAt    *string   `json:"throttled_at"`
}

type deliveryJSON struct {
	deliveryItemJSON
	URL     string `json:"url"`
	Request struct {
		Headers map[string]string `json:"headers"`
		Payload json.RawMessage   `json:"payload"`
	} `json:"request"`
	Response struct {
		Headers map[string]string `json:"headers"`
		Payload *string           `json:"payload"`
	} `json:"response"`
}

func deliveryItem(d *delivery) deliveryItemJSON {
	out := deliveryItemJSON{
		ID: d.id, GUID: d.guid, DeliveredAt: d.deliveredAt, Redelivery: d.redelivery,
		Duration: d.duration.Seconds(), Status: d.status, StatusCode: d.statusCode, Event: d.event,
	}
	if d.action != "" {
		a := d.action
		out.Action = &a
	}
	if d.instID != 0 {
		id := d.instID
		out.InstallationID = &id
	}
	if d.repoID != 0 {
		id := d.repoID
		out.RepositoryID = &id
	}
	return out
}

func flatHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// listDeliveries: GET /app/hook/deliveries, newest first, cursor paging.
func (s *Server) listDeliveries(c *call) (int, any) {
	perPage, _ := strconv.Atoi(c.query("per_page"))
	if perPage <= 0 {
		perPage = 30
	}
	if perPage > 100 {
		perPage = 100
	}
	var cursor int64
	if v := c.query("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fail(http.StatusBadRequest, "Invalid cursor")
		}
		cursor = n
	}
	s.hooks.mu.Lock()
	all := append([]*delivery(nil), s.hooks.records...)
	s.hooks.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].id > all[j].id })
	items := []deliveryItemJSON{}
	more := false
	for _, d := range all {
		if cursor != 0 && d.id >= cursor {
			continue
		}
		if len(items) == perPage {
			more = true
			break
		}
		items = append(items, deliveryItem(d))
	}
	if more {
		next := s.api("/app/hook/deliveries?per_page=%d&cursor=%d", perPage, items[len(items)-1].ID)
		c.w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", next))
	}
	return http.StatusOK, items
}

// getDelivery: GET /app/hook/deliveries/{delivery_id}.
func (s *Server) getDelivery(c *call) (int, any) {
	id, _ := strconv.ParseInt(c.param("delivery_id"), 10, 64)
	d := s.hooks.find(id)
	if d == nil {
		return notFound()
	}
	out := deliveryJSON{deliveryItemJSON: deliveryItem(d), URL: d.url}
	out.Request.Headers = flatHeaders(d.reqHeader)
	out.Request.Payload = d.payload
	out.Response.Headers = flatHeaders(d.respHeader)
	if d.statusCode != 0 {
		body := d.respBody
		out.Response.Payload = &body
	}
	return http.StatusOK, out
}

// redeliver: POST /app/hook/deliveries/{delivery_id}/attempts. The new
// attempt carries the original GUID.
func (s *Server) redeliver(c *call) (int, any) {
	id, _ := strconv.ParseInt(c.param("delivery_id"), 10, 64)
	d := s.hooks.find(id)
	if d == nil {
		return notFound()
	}
	again := s.hooks.newDelivery(&delivery{
		guid: d.guid, event: d.event, action: d.action, instID: d.instID, repoID: d.repoID,
		payload: d.payload, redelivery: true,
	})
	c.out = append(c.out, again)
	return http.StatusAccepted, struct{}{}
}
