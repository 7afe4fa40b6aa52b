package ui

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/tidwall/gjson"

	"github.com/promobot/promobot/events"
)

// FeedItem is one fact of the feed.
type FeedItem struct {
	At      time.Time
	Subject string
	// Kind and Verb are the fact's (promobot.<kind>.<verb>...).
	Kind, Verb string
	Repo       string
	Summary    string
}

// DeadItem is one dead letter: an event a consumer gave up on, and why.
type DeadItem struct {
	At time.Time
	events.DeadLetter
}

// appKey names one app of one repository.
type appKey struct{ repo, app string }

// branchKey names one promotion branch of one repository.
type branchKey struct{ repo, branch string }

// lastFact is the newest fact the page keeps about one app or promotion.
type lastFact struct {
	At     time.Time
	Verb   string
	Reason string
	// PR and PRURL are a promotion fact's pull request.
	PR    int
	PRURL string
}

// mergedPR is the pull request whose merge made a commit.
type mergedPR struct {
	Number int
	URL    string
}

// memory is what the page remembers of the bus's recent messages: the feed,
// the dead letters, each app's last apply and drift facts, each promotion's
// last fact, and which pull request's merge made which commit. Every list
// and map in it is bounded. It is safe for concurrent use.
type memory struct {
	mu       sync.Mutex
	feedSize int
	feed     []FeedItem // oldest first
	dead     []DeadItem // oldest first
	applied  map[appKey]lastFact
	drift    map[appKey]lastFact
	promos   map[branchKey]lastFact
	merges   map[string]mergedPR
	mergeLog []string // commits of merges, oldest first, to bound merges
}

// maxMerges bounds the commits whose pull request the page remembers.
const maxMerges = 4096

// maxKeyed bounds the apps and promotions whose last facts are kept.
const maxKeyed = 20000

func newMemory(feedSize int) *memory {
	return &memory{feedSize: feedSize, applied: map[appKey]lastFact{}, drift: map[appKey]lastFact{},
		promos: map[branchKey]lastFact{}, merges: map[string]mergedPR{}}
}

// factData is what the page reads of any fact's data.
type factData struct {
	Repo   string `json:"repo"`
	App    string `json:"app"`
	Branch string `json:"branch"`
	From   string `json:"from"`
	To     string `json:"to"`
	// Command, SourcePR and RequestedBy are a command's, as the promoter
	// tells them.
	Command     string `json:"command"`
	SourcePR    int    `json:"source_pr"`
	RequestedBy string `json:"requested_by"`
	Summary     string `json:"summary"`
	Reason      string `json:"reason"`
	Error       string `json:"error"`
	PR          int    `json:"pr"`
	PRURL       string `json:"pr_url"`
}

// addFact remembers one fact stored at at on subject. It reports whether
// the page changed.
func (m *memory) addFact(subject string, at time.Time, ev event.Event) bool {
	tok := strings.Split(subject, ".")
	if len(tok) < 3 || tok[0] != events.FactPrefix {
		return false
	}
	kind, verb := tok[1], tok[2]
	m.mu.Lock()
	defer m.mu.Unlock()
	if kind == "deadletter" {
		var dl events.DeadLetter
		if json.Unmarshal(ev.Data(), &dl) != nil {
			return false
		}
		m.dead = appendBounded(m.dead, DeadItem{At: at, DeadLetter: dl}, m.feedSize)
		return true
	}
	var d factData
	_ = json.Unmarshal(ev.Data(), &d)
	summary := clip(firstOf(d.Summary, d.describe(), ev.Type()), maxSummary)
	m.feed = appendBounded(m.feed, FeedItem{At: at, Subject: subject, Kind: kind, Verb: verb, Repo: d.Repo, Summary: summary}, m.feedSize)
	last := lastFact{At: at, Verb: verb, Reason: firstOf(d.Reason, d.Error), PR: d.PR, PRURL: d.PRURL}
	switch {
	case d.Repo == "":
	case kind == "promotion" && d.Branch != "":
		putBounded(m.promos, branchKey{d.Repo, d.Branch}, last)
	case d.App == "":
	case kind == "apply":
		putBounded(m.applied, appKey{d.Repo, d.App}, last)
	case kind == "drift":
		putBounded(m.drift, appKey{d.Repo, d.App}, last)
	}
	return true
}

// describe is a fact without a summary for people: "api staging →
// production #12: reason", "/promote on #3 by @alice".
func (d factData) describe() string {
	s := d.App
	if d.From != "" || d.To != "" {
		s += " " + firstOf(d.From, "?") + " → " + firstOf(d.To, "?")
	}
	if d.PR > 0 {
		s += fmt.Sprintf(" #%d", d.PR)
	}
	if d.Command != "" {
		s += " " + d.Command
	}
	if d.SourcePR > 0 && d.PR == 0 {
		s += fmt.Sprintf(" on #%d", d.SourcePR)
	}
	if d.RequestedBy != "" {
		s += " by @" + d.RequestedBy
	}
	if why := firstOf(d.Reason, d.Error); why != "" {
		s += ": " + why
	}
	return strings.TrimPrefix(strings.TrimSpace(s), ": ")
}

// addPullRequest remembers the pull request a pull_request delivery
// reports merged. It reports whether it learnt something.
func (m *memory) addPullRequest(payload []byte) bool {
	pr := gjson.GetBytes(payload, "pull_request")
	sha := pr.Get("merge_commit_sha").String()
	if !pr.Get("merged").Bool() || sha == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.merges[sha]; !ok {
		m.mergeLog = append(m.mergeLog, sha)
		if len(m.mergeLog) > maxMerges {
			delete(m.merges, m.mergeLog[0])
			m.mergeLog = m.mergeLog[1:]
		}
	}
	m.merges[sha] = mergedPR{Number: int(pr.Get("number").Int()), URL: pr.Get("html_url").String()}
	return true
}

// snapshot is a copy of what the memory holds, for one render.
type snapshot struct {
	feed    []FeedItem // newest first
	dead    []DeadItem // newest first
	applied map[appKey]lastFact
	drift   map[appKey]lastFact
	promos  map[branchKey]lastFact
	merges  map[string]mergedPR
}

func (m *memory) snapshot() snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := snapshot{feed: reversed(m.feed), dead: reversed(m.dead), applied: clone(m.applied),
		drift: clone(m.drift), promos: clone(m.promos), merges: clone(m.merges)}
	return s
}

func appendBounded[T any](list []T, v T, n int) []T {
	list = append(list, v)
	if len(list) > n {
		list = append(list[:0:0], list[len(list)-n:]...)
	}
	return list
}

// putBounded sets m[k], first forgetting everything when m is full: the
// facts replayed since the page started fill it again.
func putBounded[K comparable](m map[K]lastFact, k K, v lastFact) {
	if _, ok := m[k]; !ok && len(m) >= maxKeyed {
		clear(m)
	}
	m[k] = v
}

func reversed[T any](list []T) []T {
	out := make([]T, len(list))
	for i, v := range list {
		out[len(list)-1-i] = v
	}
	return out
}

func clone[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// maxSummary bounds a feed line: a fact may quote a whole comment line.
const maxSummary = 300

// clip cuts s to at most n runes, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
