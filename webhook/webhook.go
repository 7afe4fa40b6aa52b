// Package webhook is promobot's GitHub webhook receiver.
//
// It verifies each delivery's HMAC signature, turns it into one CloudEvent
// and publishes it on the event bus, and answers GitHub only after the bus
// acknowledged the event as stored: 202 means "durably recorded", 503 means
// "not stored, redeliver". It never calls the GitHub API, renders or applies.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/tidwall/gjson"

	"github.com/promobot/promobot/events"
)

// ExtensionEvent is the CloudEvent extension holding a delivery's GitHub
// event name (X-GitHub-Event), so consumers need not parse the type.
const ExtensionEvent = "githubevent"

// EventName returns the GitHub event name of a delivery's CloudEvent, ""
// for any other event.
func EventName(ev event.Event) string {
	name, _ := ev.Extensions()[ExtensionEvent].(string)
	return name
}

// MaxBodyBytes is the largest delivery accepted: GitHub caps payloads at
// 25 MB and does not send larger ones.
const MaxBodyBytes = 25 << 20

// Header names GitHub sets on every delivery.
const (
	HeaderEvent     = "X-GitHub-Event"
	HeaderDelivery  = "X-GitHub-Delivery"
	HeaderSignature = "X-Hub-Signature-256"
)

var (
	deliveriesTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "promobot_webhook_deliveries_total",
		Help: "Webhook deliveries received, by GitHub event and HTTP status answered.",
	}, []string{"event", "code"})
	deliverySeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "promobot_webhook_duration_seconds",
		Help:    "Time from receiving a delivery to answering it (includes the bus acknowledgement).",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
	})
)

// Publisher stores an event durably. Publish returns only after the bus
// acknowledged the event, or an error if it did not.
type Publisher interface {
	Publish(ctx context.Context, subject string, ev event.Event) (events.PubAck, error)
}

// Installations records which installations and repositories promobot
// serves. Every method is idempotent.
type Installations interface {
	PutInstallation(ctx context.Context, in events.Installation) error
	DeleteInstallation(ctx context.Context, id int64) error
	AddRepo(ctx context.Context, ri events.RepoInstallation) error
	RemoveRepo(ctx context.Context, owner, repo string) error
}

// Options configure a Receiver.
type Options struct {
	// Secrets are the webhook secrets a signature may be made with. More
	// than one lets a secret be rotated without downtime: configure the
	// new one beside the old, change it on GitHub, then drop the old.
	Secrets [][]byte
	// Logger receives one line per delivery (default slog.Default()).
	Logger *slog.Logger
}

// Receiver is the http.Handler for POST /webhook. It is safe for
// concurrent use.
type Receiver struct {
	secrets [][]byte
	pub     Publisher
	inst    Installations
	log     *slog.Logger
}

// New returns a Receiver publishing to pub and recording installations in
// inst (which may be nil when the caller does not keep a registry).
func New(opts Options, pub Publisher, inst Installations) (*Receiver, error) {
	if len(opts.Secrets) == 0 {
		return nil, errors.New("webhook: at least one webhook secret is required")
	}
	for i, s := range opts.Secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("webhook: secret %d is empty", i+1)
		}
	}
	if pub == nil {
		return nil, errors.New("webhook: a publisher is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Receiver{secrets: opts.Secrets, pub: pub, inst: inst, log: log}, nil
}

// ServeHTTP answers one delivery:
//
//	405 not a POST
//	413 body over 25 MiB
//	401 signature missing or made with none of the secrets
//	400 missing X-GitHub-Event or X-GitHub-Delivery, or a body that is not a JSON object
//	503 the bus did not acknowledge the event (nothing stored; redeliver it)
//	200 ping, stored
//	202 any other event, stored
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	eventName := r.Header.Get(HeaderEvent)
	code, msg, attrs := rc.serve(r)
	deliverySeconds.Observe(time.Since(start).Seconds())
	label := eventName
	if code == http.StatusUnauthorized || label == "" || len(label) > 64 {
		label = "unknown" // unauthenticated input must not create metric series
	}
	deliveriesTotal.WithLabelValues(label, strconv.Itoa(code)).Inc()

	logAttrs := append([]any{"delivery_id", r.Header.Get(HeaderDelivery), "event", eventName, "status", code}, attrs...)
	switch {
	case code >= 500:
		rc.log.Error("webhook delivery not stored", append(logAttrs, "error", msg)...)
	case code >= 400:
		rc.log.Warn("webhook delivery refused", append(logAttrs, "reason", msg)...)
	default:
		rc.log.Info("webhook delivery stored", logAttrs...)
	}

	if code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "10")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	body, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(append(body, '\n'))
}

func (rc *Receiver) serve(r *http.Request) (code int, msg string, attrs []any) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, "only POST is accepted", nil
	}
	if r.ContentLength > MaxBodyBytes {
		return http.StatusRequestEntityTooLarge, "payload larger than 25 MiB", nil
	}
	body, err := readBody(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return http.StatusRequestEntityTooLarge, "payload larger than 25 MiB", nil
		}
		return http.StatusBadRequest, "reading body: " + err.Error(), nil
	}
	if !rc.verify(r.Header.Get(HeaderSignature), body) {
		if r.Header.Get(HeaderSignature) == "" {
			return http.StatusUnauthorized, "missing " + HeaderSignature + " signature", nil
		}
		return http.StatusUnauthorized, "signature does not match any configured webhook secret", nil
	}
	name, id := r.Header.Get(HeaderEvent), r.Header.Get(HeaderDelivery)
	if name == "" || id == "" {
		return http.StatusBadRequest, "missing " + HeaderEvent + " or " + HeaderDelivery + " header", nil
	}
	p, err := parsePayload(body)
	if err != nil {
		return http.StatusBadRequest, "body is not a JSON object (set the webhook content type to application/json): " + err.Error(), nil
	}
	attrs = []any{"repo", p.fullName()}

	ev := newEvent(name, id, body, p)
	ack, err := rc.pub.Publish(r.Context(), subject(name, p), ev)
	if err != nil {
		return http.StatusServiceUnavailable, "event bus did not acknowledge the delivery; redeliver it", append(attrs, "cause", err.Error())
	}
	attrs = append(attrs, "stream_seq", ack.Sequence, "duplicate", ack.Duplicate)
	if err := rc.record(r.Context(), name, p); err != nil {
		return http.StatusServiceUnavailable, "installation not recorded; redeliver it", append(attrs, "cause", err.Error())
	}
	if name == "ping" {
		return http.StatusOK, "pong", attrs
	}
	return http.StatusAccepted, "accepted", attrs
}

// readBody reads at most MaxBodyBytes, sized from Content-Length when given
// so a typical delivery is read without growing the buffer.
func readBody(r *http.Request) ([]byte, error) {
	lr := http.MaxBytesReader(nil, r.Body, MaxBodyBytes)
	if n := r.ContentLength; n > 0 && n <= MaxBodyBytes {
		buf := make([]byte, n)
		if _, err := io.ReadFull(lr, buf); err != nil {
			return nil, err
		}
		// Content-Length is authoritative; anything beyond it is ignored.
		return buf, nil
	}
	return io.ReadAll(lr)
}

// verify checks the X-Hub-Signature-256 header against every secret, in
// constant time per secret.
func (rc *Receiver) verify(header string, body []byte) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	match := false
	for _, secret := range rc.secrets {
		mac := hmac.New(sha256.New, secret)
		mac.Write(body)
		if hmac.Equal(got, mac.Sum(nil)) {
			match = true
		}
	}
	return match
}

// Sign returns the X-Hub-Signature-256 value GitHub sends for body signed
// with secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// record keeps the installations registry current from installation and
// installation_repositories deliveries.
func (rc *Receiver) record(ctx context.Context, name string, p payload) error {
	if rc.inst == nil || p.InstallationID == 0 {
		return nil
	}
	id := p.InstallationID
	switch name {
	case "installation":
		switch p.Action {
		case "deleted", "suspend":
			if err := rc.removeRepos(ctx, p.Repositories); err != nil {
				return err
			}
			return rc.inst.DeleteInstallation(ctx, id)
		default:
			if err := rc.inst.PutInstallation(ctx, events.Installation{ID: id, Account: p.AccountLogin}); err != nil {
				return err
			}
			return rc.addRepos(ctx, id, p.Repositories)
		}
	case "installation_repositories":
		if err := rc.addRepos(ctx, id, p.RepositoriesAdded); err != nil {
			return err
		}
		return rc.removeRepos(ctx, p.RepositoriesRemoved)
	}
	return nil
}

func (rc *Receiver) addRepos(ctx context.Context, id int64, fullNames []string) error {
	for _, full := range fullNames {
		if o, n, ok := strings.Cut(full, "/"); ok {
			if err := rc.inst.AddRepo(ctx, events.RepoInstallation{Owner: o, Repo: n, InstallationID: id}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (rc *Receiver) removeRepos(ctx context.Context, fullNames []string) error {
	for _, full := range fullNames {
		if o, n, ok := strings.Cut(full, "/"); ok {
			if err := rc.inst.RemoveRepo(ctx, o, n); err != nil {
				return err
			}
		}
	}
	return nil
}

// payload is the handful of fields every delivery may carry that promobot
// needs to route it; everything else stays in the raw bytes.
type payload struct {
	Action         string
	Ref            string
	Number         int64
	RepoName       string
	RepoFullName   string
	RepoURL        string
	RepoOwner      string
	PRNumber       int64
	IssueNumber    int64
	InstallationID int64
	AccountLogin   string
	AccountURL     string
	OrgLogin       string
	// The installation events' repository lists, read only for them.
	Repositories, RepositoriesAdded, RepositoriesRemoved []string
}

// parsePayload validates that body is one JSON object and reads the routing
// fields in a single pass over the top-level keys, descending only into the
// objects that hold routing fields. It uses gjson rather than encoding/json
// so the receiver stays close to the bus's own throughput.
func parsePayload(body []byte) (payload, error) {
	p := payload{Number: -1, PRNumber: -1, IssueNumber: -1}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return p, errors.New("not a JSON object")
	}
	if !gjson.ValidBytes(body) {
		return p, errors.New("invalid JSON")
	}
	names := func(v gjson.Result) []string {
		var out []string
		v.ForEach(func(_, item gjson.Result) bool {
			out = append(out, item.Get("full_name").String())
			return true
		})
		return out
	}
	gjson.ParseBytes(body).ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "action":
			p.Action = v.String()
		case "ref":
			p.Ref = v.String()
		case "number":
			if v.Type == gjson.Number {
				p.Number = v.Int()
			}
		case "repository":
			v.ForEach(func(k, v gjson.Result) bool {
				switch k.Str {
				case "name":
					p.RepoName = v.String()
				case "full_name":
					p.RepoFullName = v.String()
				case "html_url":
					p.RepoURL = v.String()
				case "owner":
					p.RepoOwner = v.Get("login").String()
				}
				return true
			})
		case "pull_request":
			if n := v.Get("number"); n.Type == gjson.Number {
				p.PRNumber = n.Int()
			}
		case "issue":
			if n := v.Get("number"); n.Type == gjson.Number {
				p.IssueNumber = n.Int()
			}
		case "installation":
			v.ForEach(func(k, v gjson.Result) bool {
				switch k.Str {
				case "id":
					p.InstallationID = v.Int()
				case "account":
					p.AccountLogin, p.AccountURL = v.Get("login").String(), v.Get("html_url").String()
				}
				return true
			})
		case "organization":
			p.OrgLogin = v.Get("login").String()
		case "repositories":
			p.Repositories = names(v)
		case "repositories_added":
			p.RepositoriesAdded = names(v)
		case "repositories_removed":
			p.RepositoriesRemoved = names(v)
		}
		return true
	})
	return p, nil
}

func (p payload) owner() string {
	switch {
	case p.RepoOwner != "":
		return p.RepoOwner
	case p.AccountLogin != "":
		return p.AccountLogin
	}
	return p.OrgLogin
}

func (p payload) repo() string { return p.RepoName }

func (p payload) fullName() string { return p.RepoFullName }

// subject is the bus subject of a delivery: github.<event>.<owner>.<repo>.
func subject(name string, p payload) string {
	return events.GitHubSubject(name, p.owner(), p.repo())
}

// EventType is the CloudEvent type of a delivery: com.github.<event>, with
// .<action> appended when the payload has one.
func EventType(name, action string) string {
	if action == "" {
		return "com.github." + name
	}
	return "com.github." + name + "." + action
}

// newEvent builds the CloudEvent for one delivery: id = delivery id, type
// com.github.<event>[.<action>], source = the repository URL (or the
// account's, or https://github.com), subject = the ref or the PR/issue
// number, data = body unchanged, and an "installation" extension with the
// installation id when the payload has one.
func newEvent(name, deliveryID string, body []byte, p payload) event.Event {
	ev := event.New()
	ev.SetID(deliveryID)
	ev.SetType(EventType(name, p.Action))
	source := "https://github.com"
	switch {
	case p.RepoURL != "":
		source = p.RepoURL
	case p.AccountURL != "":
		source = p.AccountURL
	}
	ev.SetSource(source)
	switch {
	case p.Ref != "":
		ev.SetSubject(p.Ref)
	case p.PRNumber >= 0:
		ev.SetSubject(strconv.FormatInt(p.PRNumber, 10))
	case p.IssueNumber >= 0:
		ev.SetSubject(strconv.FormatInt(p.IssueNumber, 10))
	case p.Number >= 0:
		ev.SetSubject(strconv.FormatInt(p.Number, 10))
	}
	ev.SetTime(time.Now().UTC())
	if p.InstallationID != 0 {
		ev.SetExtension("installation", strconv.FormatInt(p.InstallationID, 10))
	}
	ev.SetExtension(ExtensionEvent, name)
	_ = ev.SetData("application/json", body)
	return ev
}
