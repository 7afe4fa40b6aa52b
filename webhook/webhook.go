// Package webhook is promobot's GitHub webhook receiver.
//
// It verifies each delivery's HMAC signature, turns it into one CloudEvent
// (routing fields read by ghevent.Parse, the event name in the ghevent
// vocabulary) and publishes it on the event bus, and answers GitHub only
// after the bus acknowledged the event as stored: 202 means "durably
// recorded", 503 means "not stored, redeliver". That is all it does: it
// writes to no bucket (consumers record installations, see
// state.Registry.Record), and never calls the GitHub API, renders or
// applies.
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
	"hash"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
)

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
		Help: "Webhook deliveries received, by HTTP status answered and GitHub event: the event name once the signature is verified and GitHub sends that event, \"other\" for other verified names, \"unverified\" before or without a valid signature.",
	}, []string{"event", "code"})
	deliverySeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name:    "promobot_webhook_duration_seconds",
		Help:    "Time from receiving a delivery to answering it (includes the bus acknowledgement).",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16),
	})
)

// githubEvents are the X-GitHub-Event names GitHub sends to Apps: the only
// names a metric label may take.
var githubEvents = func() map[string]bool {
	known := map[string]bool{}
	for _, name := range strings.Fields(`
		branch_protection_configuration branch_protection_rule check_run check_suite
		code_scanning_alert commit_comment create custom_property custom_property_values
		delete dependabot_alert deploy_key deployment deployment_protection_rule
		deployment_review deployment_status discussion discussion_comment fork
		github_app_authorization gollum installation installation_repositories
		installation_target issue_comment issues label marketplace_purchase member
		membership merge_group meta milestone org_block organization package page_build
		personal_access_token_request ping project project_card project_column projects_v2
		projects_v2_item projects_v2_status_update public pull_request pull_request_review
		pull_request_review_comment pull_request_review_thread push registry_package release
		repository repository_advisory repository_dispatch repository_import repository_ruleset
		repository_vulnerability_alert secret_scanning_alert secret_scanning_alert_location
		secret_scanning_scan security_advisory security_and_analysis sponsorship star status
		sub_issues team team_add watch workflow_dispatch workflow_job workflow_run`) {
		known[name] = true
	}
	return known
}()

// metricEvent is the event label of a delivery: its name only when the
// signature was verified and GitHub sends events of that name, so neither
// strangers nor unexpected names can create metric series.
func metricEvent(name string, verified bool) string {
	switch {
	case !verified:
		return "unverified"
	case githubEvents[name]:
		return name
	}
	return "other"
}

// Publisher stores an event durably. Publish returns only after the bus
// acknowledged the event, or an error if it did not.
type Publisher interface {
	Publish(ctx context.Context, subject string, ev event.Event) (events.PubAck, error)
}

// Options configure a Receiver.
type Options struct {
	// Secrets are the webhook secrets a signature may be made with. More
	// than one lets a secret be rotated without downtime: configure the
	// new one beside the old, change it on GitHub, then drop the old.
	Secrets [][]byte
	// Logger receives one line per delivery (default slog.Default()).
	Logger *slog.Logger
	// UnverifiedBytes bounds the memory held by all request bodies being
	// read whose signature is not verified yet (default
	// DefaultUnverifiedBytes). Anyone who can reach /webhook can send such
	// bodies; a delivery larger than this can never be read, so keep it
	// at least MaxBodyBytes.
	UnverifiedBytes int64
	// UnverifiedWait is how long, in total, a delivery may wait for room
	// in UnverifiedBytes before it is answered 503 with Retry-After, which
	// GitHub records as a failed delivery to send again (default
	// DefaultUnverifiedWait).
	UnverifiedWait time.Duration
	// BodyTimeout bounds the time a body may take to arrive, so a slow
	// sender cannot hold its share of UnverifiedBytes for long (default
	// DefaultBodyTimeout).
	BodyTimeout time.Duration
}

// Receiver is the http.Handler for POST /webhook. It is safe for
// concurrent use.
type Receiver struct {
	secrets [][]byte
	pub     Publisher
	log     *slog.Logger
	budget  *budget
	wait    time.Duration
	bodyTTL time.Duration
}

// New returns a Receiver publishing to pub.
func New(opts Options, pub Publisher) (*Receiver, error) {
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
	if opts.UnverifiedBytes <= 0 {
		opts.UnverifiedBytes = DefaultUnverifiedBytes
	}
	if opts.UnverifiedWait <= 0 {
		opts.UnverifiedWait = DefaultUnverifiedWait
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	return &Receiver{secrets: opts.Secrets, pub: pub, log: log,
		budget: newBudget(opts.UnverifiedBytes), wait: opts.UnverifiedWait, bodyTTL: opts.BodyTimeout}, nil
}

// outcome is how one request was answered.
type outcome struct {
	code  int
	msg   string
	attrs []any
	// verified is set once the body's signature matched a secret.
	verified bool
}

// ServeHTTP answers one delivery:
//
//	405 not a POST
//	413 body over 25 MiB
//	401 signature missing or made with none of the secrets
//	503 no room to read the body among other unverified bodies
//	    (Options.UnverifiedBytes) within Options.UnverifiedWait
//	400 missing X-GitHub-Event or X-GitHub-Delivery, or a body that is not a JSON object
//	503 the bus did not acknowledge the event (nothing stored; redeliver it)
//	200 ping, stored
//	202 any other event, stored
//
// The body is read only when a well-formed signature header is present,
// and hashed as it is read. Metrics label a delivery with its event name
// only once its signature is verified, and only for names GitHub sends
// (others count as "other", unverified requests as "unverified"), so no
// request can add metric series.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	eventName := r.Header.Get(HeaderEvent)
	// Where the connection takes no deadline, the server's own
	// ReadTimeout still bounds the body.
	_ = http.NewResponseController(w).SetReadDeadline(start.Add(rc.bodyTTL))
	out := rc.serve(r)
	deliverySeconds.Observe(time.Since(start).Seconds())
	deliveriesTotal.WithLabelValues(metricEvent(eventName, out.verified), strconv.Itoa(out.code)).Inc()

	logEvent := eventName
	if !out.verified && len(logEvent) > 64 {
		logEvent = logEvent[:64]
	}
	logAttrs := append([]any{"delivery_id", r.Header.Get(HeaderDelivery), "event", logEvent, "status", out.code}, out.attrs...)
	switch {
	case out.code >= 500:
		rc.log.Error("webhook delivery not stored", append(logAttrs, "error", out.msg)...)
	case out.code >= 400:
		rc.log.Warn("webhook delivery refused", append(logAttrs, "reason", out.msg)...)
	default:
		rc.log.Info("webhook delivery stored", logAttrs...)
	}

	if out.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	if out.code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "10")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(out.code)
	body, _ := json.Marshal(map[string]string{"message": out.msg})
	_, _ = w.Write(append(body, '\n'))
}

func (rc *Receiver) serve(r *http.Request) outcome {
	refuse := func(code int, msg string) outcome { return outcome{code: code, msg: msg} }
	if r.Method != http.MethodPost {
		return refuse(http.StatusMethodNotAllowed, "only POST is accepted")
	}
	if r.ContentLength > MaxBodyBytes {
		return refuse(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB")
	}
	header := r.Header.Get(HeaderSignature)
	if header == "" {
		return refuse(http.StatusUnauthorized, "missing "+HeaderSignature+" signature")
	}
	sig, ok := parseSignature(header)
	if !ok {
		return refuse(http.StatusUnauthorized, "signature does not match any configured webhook secret")
	}
	macs := make([]hash.Hash, len(rc.secrets))
	for i, secret := range rc.secrets {
		macs[i] = hmac.New(sha256.New, secret)
	}
	chunks, held, err := rc.read(r, macs)
	defer func() {
		recycle(chunks)
		rc.budget.release(held)
	}()
	switch {
	case errors.Is(err, errBudget):
		return refuse(http.StatusServiceUnavailable, "too many deliveries being read; redeliver it")
	case errors.Is(err, errTooLarge):
		return refuse(http.StatusRequestEntityTooLarge, "payload larger than 25 MiB")
	case err != nil:
		return refuse(http.StatusBadRequest, "reading body: "+err.Error())
	}
	if !matches(sig, macs) {
		return refuse(http.StatusUnauthorized, "signature does not match any configured webhook secret")
	}
	var body []byte
	if len(chunks) == 1 {
		body = chunks[0]
	} else {
		body = bytes.Join(chunks, nil) // also an empty body: no chunk at all
		recycle(chunks)
	}
	// The body is GitHub's now: it no longer counts against the budget.
	chunks = nil
	rc.budget.release(held)
	held = 0

	out := outcome{verified: true}
	name, id := r.Header.Get(HeaderEvent), r.Header.Get(HeaderDelivery)
	if name == "" || id == "" {
		out.code, out.msg = http.StatusBadRequest, "missing "+HeaderEvent+" or "+HeaderDelivery+" header"
		return out
	}
	p, err := ghevent.Parse(body)
	if err != nil {
		out.code, out.msg = http.StatusBadRequest, "body is not a JSON object (set the webhook content type to application/json): "+err.Error()
		return out
	}
	out.attrs = []any{events.KeyRepo, p.Repository.FullName}

	ev := newEvent(name, id, body, p)
	ack, err := rc.pub.Publish(r.Context(), ghevent.Subject(name, p), ev)
	if err != nil {
		out.code, out.msg = http.StatusServiceUnavailable, "event bus did not acknowledge the delivery; redeliver it"
		out.attrs = append(out.attrs, "cause", err.Error())
		return out
	}
	out.attrs = append(out.attrs, "stream_seq", ack.Sequence, "duplicate", ack.Duplicate)
	if name == "ping" {
		out.code, out.msg = http.StatusOK, "pong"
		return out
	}
	out.code, out.msg = http.StatusAccepted, "accepted"
	return out
}

// readChunk is how much of a body is allocated and read at a time, so an
// unverified body holds memory only for bytes that actually arrived.
const readChunk = 64 << 10

var errTooLarge = errors.New("body larger than 25 MiB")

// chunkPool keeps full-size read chunks for the next body, so refused
// bodies do not leave garbage beside the budget until the next collection.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, readChunk)
	return &b
}}

// recycle returns the full-size chunks of a body no one refers to any more.
func recycle(chunks [][]byte) {
	for _, c := range chunks {
		if cap(c) == readChunk {
			c = c[:readChunk]
			chunkPool.Put(&c)
		}
	}
}

// read reads the body, writing it to every HMAC as it arrives. Bytes are
// reserved in the unverified budget before they are read: all of a
// Content-Length at once (so requests never hold part of the budget while
// waiting for the rest of it), or chunk by chunk for a body of unknown
// length. It returns the chunks read and the bytes reserved, which the
// caller releases; held is set even when err is not nil. A Content-Length
// is authoritative: the body is read to that length and no further.
func (rc *Receiver) read(r *http.Request, macs []hash.Hash) (chunks [][]byte, held int64, err error) {
	limit, known := int64(MaxBodyBytes)+1, r.ContentLength >= 0
	wait := rc.wait
	if known {
		limit = r.ContentLength
		if err := rc.budget.reserve(r.Context(), limit, &wait); err != nil {
			return nil, 0, err
		}
		held = limit
	}
	for n := int64(0); n < limit; {
		size := min(readChunk, limit-n)
		if !known {
			if err := rc.budget.reserve(r.Context(), size, &wait); err != nil {
				return chunks, held, err
			}
			held += size
		}
		var buf []byte
		if size == readChunk {
			buf = (*chunkPool.Get().(*[]byte))[:size]
		} else {
			buf = make([]byte, size)
		}
		m, err := io.ReadFull(r.Body, buf)
		if m > 0 {
			chunks = append(chunks, buf[:m])
			for _, mac := range macs {
				mac.Write(buf[:m])
			}
			n += int64(m)
		}
		switch {
		case !known && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
			return chunks, held, nil
		case err != nil:
			return chunks, held, err
		case !known && n > MaxBodyBytes:
			return chunks, held, errTooLarge
		}
	}
	return chunks, held, nil
}

// parseSignature decodes an X-Hub-Signature-256 header: "sha256=" and 64
// hex digits.
func parseSignature(header string) ([]byte, bool) {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return nil, false
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return nil, false
	}
	return got, true
}

// matches compares sig with every secret's HMAC of the body, each in
// constant time.
func matches(sig []byte, macs []hash.Hash) bool {
	match := false
	for _, mac := range macs {
		if hmac.Equal(sig, mac.Sum(nil)) {
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

// newEvent builds the CloudEvent for one delivery: id = delivery id, type
// com.github.<event>[.<action>], source = the repository URL (or the
// account's, or https://github.com), subject = the ref or the PR/issue
// number, data = body unchanged, the event name in the
// ghevent.ExtensionEvent extension, and an "installation" extension with
// the installation id when the payload has one.
func newEvent(name, deliveryID string, body []byte, p ghevent.Payload) event.Event {
	ev := event.New()
	ev.SetID(deliveryID)
	ev.SetType(ghevent.Type(name, p.Action))
	ev.SetSource(p.Source())
	if s := p.Subject(); s != "" {
		ev.SetSubject(s)
	}
	ev.SetTime(time.Now().UTC())
	if p.InstallationID != 0 {
		ev.SetExtension("installation", strconv.FormatInt(p.InstallationID, 10))
	}
	ev.SetExtension(ghevent.ExtensionEvent, name)
	_ = ev.SetData("application/json", body)
	return ev
}
