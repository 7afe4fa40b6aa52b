// Package diff renders the comment reviewers read before a change reaches
// a cluster: for each app, the rendered manifests before and after, one
// unified diff per changed resource in its own <details> section with a
// one-line summary, Secret values replaced by fingerprints, and the whole
// body kept under GitHub's comment size limit. A hidden marker lets the
// caller find its earlier comment and edit it in place.
//
// Everything here is pure: rendered bytes in, Markdown out.
package diff

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/pmezard/go-difflib/difflib"
	"go.yaml.in/yaml/v3"

	"github.com/promobot/promobot/internal/markdown"
)

// GitHubCommentLimit is the most characters GitHub accepts in an issue or
// pull request comment; a longer body is refused with 422.
const GitHubCommentLimit = 65536

// DefaultLimit is the default size budget of a comment body, in bytes. It
// leaves room under GitHubCommentLimit for what a caller appends, and bytes
// are never fewer than characters, so a body within it is always accepted.
const DefaultLimit = 60000

// maxErrorBytes bounds how much of a render error is quoted.
const maxErrorBytes = 2000

// noteReserve is the part of the budget kept for the note listing what was
// left out.
const noteReserve = 2500

// AppRender is one app's rendered manifests on both sides of a change.
type AppRender struct {
	// App and Environment name the app in the comment.
	App         string
	Environment string
	// Before and After are multi-document YAML, as kustomize build prints.
	Before, After []byte
	// BeforeErr and AfterErr are render failures of a side; the comment
	// shows the failure instead of that side's resources.
	BeforeErr, AfterErr error
	// File is the repository file a failure of the after side points at
	// (Failure.File); optional.
	File string
}

// Failure is an app whose after side failed to render (or to parse), with
// the message as the comment shows it: Secret values scrubbed.
type Failure struct {
	App, Environment, File, Message string
}

// Options shape the comment.
type Options struct {
	// Key identifies the sticky comment (see MarkerFor), e.g. "pr" or
	// "promotion/my-api/production". Empty: no marker.
	Key string
	// Title is the heading, plain text. Default "Rendered manifests".
	Title string
	// BeforeLabel and AfterLabel name the two sides in Markdown, e.g.
	// "`main` (1a2b3c4)" and "this pull request (5d6e7f8)". Defaults
	// "before" and "after". Their code spans are kept and the rest is
	// escaped (see markdown.Line).
	BeforeLabel, AfterLabel string
	// Limit is the body's size budget in bytes. Default DefaultLimit; it is
	// kept between 8,000 and GitHubCommentLimit.
	Limit int
	// FingerprintKey keys the HMAC that replaces Secret values. Empty: a
	// random key per Render call, so fingerprints can be compared within
	// one comment (a changed value shows a different fingerprint) but
	// cannot be brute-forced or correlated across comments. Pass a stable
	// secret key to make fingerprints comparable between comments.
	FingerprintKey []byte
	// Footer is Markdown appended at the end, e.g. which commits were
	// rendered. It is promobot's own text and is not escaped.
	Footer string
	// Notices are listed after the summary line, e.g. Application
	// manifests promobot could not use.
	Notices []Notice
	// Direct, when set, reports whether a change of app in env reaches
	// env at merge, though env is meant to be reached by promotion only:
	// the comment then opens with how many resources in how many apps the
	// merge changes there directly (Comment.Direct lists them).
	Direct func(app, env string) bool
}

// Action is what happened to a resource.
type Action string

// Actions.
const (
	Added    Action = "added"
	Removed  Action = "removed"
	Modified Action = "modified"
)

// Change is one resource that differs between the two sides.
type Change struct {
	App, Environment      string
	Kind, Namespace, Name string
	Action                Action
	// Summary is the one-line description shown in <summary>, without the
	// resource name: "image ghcr.io/x/api 1.2.3 → 1.3.0", "replicas 1 → 10",
	// "added", "3 lines changed".
	Summary string
	// Diff is the unified diff (hunks only, Secret values redacted).
	Diff string
}

// ID is the resource's "Kind/namespace/name" ("Kind/name" when cluster
// scoped).
func (c Change) ID() string {
	if c.Namespace == "" {
		return c.Kind + "/" + c.Name
	}
	return c.Kind + "/" + c.Namespace + "/" + c.Name
}

// Comment is a rendered diff comment.
type Comment struct {
	// Body is the Markdown to post, at most Options.Limit bytes.
	Body string
	// Changes lists every change found, in the order of the body.
	Changes []Change
	// Omitted lists the changes whose diff was left out of Body to respect
	// the limit (they are named in a note at its end).
	Omitted []Change
	// Truncated counts the changes whose diff was cut short.
	Truncated int
	// RenderErrors counts the apps with a side that failed to render.
	RenderErrors int
	// Direct lists the changes Options.Direct picked: what a merge changes
	// without a promotion.
	Direct []Change
	// Failures lists the apps whose after side failed, in input order.
	Failures []Failure
}

// MarkerFor returns the hidden HTML comment that marks the sticky comment
// for key. Characters that could end an HTML comment are replaced.
func MarkerFor(key string) string {
	return "<!-- promobot:diff " + markerKey(key) + " -->"
}

// HasMarker reports whether body is the sticky comment for key: the
// marker is its first line. (A marker's text elsewhere, say in a diff,
// does not count.)
func HasMarker(body, key string) bool {
	return strings.HasPrefix(body, MarkerFor(key)+"\n")
}

var unsafeMarker = regexp.MustCompile(`[^A-Za-z0-9._/:#@+=-]`)

func markerKey(key string) string {
	return strings.ReplaceAll(unsafeMarker.ReplaceAllString(key, "_"), "--", "-_")
}

// Compare returns the resources that differ between two renders, in
// display order (by kind, namespace, name). Secret values in Diff are
// fingerprinted with opts.FingerprintKey (random when empty). The error
// reports output that is not Kubernetes YAML.
func Compare(before, after []byte, opts Options) ([]Change, error) {
	fp := fingerprinter{key: fingerprintKey(opts)}
	bo, err := parseObjects(before)
	if err != nil {
		return nil, err
	}
	ao, err := parseObjects(after)
	if err != nil {
		return nil, err
	}
	vals := map[string]bool{}
	secretValues(bo, vals)
	secretValues(ao, vals)
	s := newScrubber(vals, fp)
	b, err := parseResources(bo, fp, s)
	if err != nil {
		return nil, err
	}
	a, err := parseResources(ao, fp, s)
	if err != nil {
		return nil, err
	}
	return compare(b, a), nil
}

func fingerprintKey(opts Options) []byte {
	if len(opts.FingerprintKey) > 0 {
		return opts.FingerprintKey
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		// crypto/rand does not fail on supported platforms; a fixed key
		// would still hide values, only less well against guessing.
		return []byte("promobot")
	}
	return k
}

func compare(before, after []*resource) []Change {
	bm, bkeys := index(before)
	am, akeys := index(after)
	keys := map[string]*resource{}
	for _, k := range bkeys {
		keys[k] = bm[k]
	}
	for _, k := range akeys {
		keys[k] = am[k]
	}
	ordered := make([]string, 0, len(keys))
	for k := range keys {
		ordered = append(ordered, k)
	}
	sort.Slice(ordered, func(i, j int) bool {
		ri, rj := keys[ordered[i]], keys[ordered[j]]
		if ri.kind != rj.kind {
			return ri.kind < rj.kind
		}
		if ri.namespace != rj.namespace {
			return ri.namespace < rj.namespace
		}
		return ordered[i] < ordered[j]
	})
	var out []Change
	for _, k := range ordered {
		b, a := bm[k], am[k]
		if b != nil && a != nil && b.text == a.text {
			continue
		}
		r := a
		if r == nil {
			r = b
		}
		c := Change{Kind: r.kind, Namespace: r.namespace, Name: r.name}
		var bt, at string
		switch {
		case b == nil:
			c.Action, at = Added, a.text
		case a == nil:
			c.Action, bt = Removed, b.text
		default:
			c.Action, bt, at = Modified, b.text, a.text
		}
		c.Diff = unified(bt, at)
		c.Summary = summarize(c.Action, b, a, c.Diff)
		out = append(out, c)
	}
	return out
}

// index maps resources by key; a repeated key (which kustomize refuses to
// render) gets a "#2" suffix so that nothing is silently dropped.
func index(rs []*resource) (map[string]*resource, []string) {
	m := map[string]*resource{}
	var keys []string
	for _, r := range rs {
		k := r.key()
		for i := 2; m[k] != nil; i++ {
			k = fmt.Sprintf("%s#%d", r.key(), i)
		}
		m[k] = r
		keys = append(keys, k)
	}
	return m, keys
}

func unified(before, after string) string {
	s, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: lines(before), B: lines(after), Context: 3})
	if err != nil {
		return ""
	}
	return s
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	l := strings.SplitAfter(s, "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	} else {
		l[len(l)-1] += "\n"
	}
	return l
}

// summarize describes a change in one line: images, replicas and Secret
// keys by name, everything else as a count of lines.
func summarize(action Action, b, a *resource, diff string) string {
	switch action {
	case Added:
		return "added"
	case Removed:
		return "removed"
	}
	var parts []string
	var imgs []string
	for _, k := range unionKeys(b.images, a.images) {
		bi, ai := b.images[k], a.images[k]
		switch {
		case bi == ai:
		case bi == "":
			imgs = append(imgs, "image "+ai+" added")
		case ai == "":
			imgs = append(imgs, "image "+bi+" removed")
		default:
			imgs = append(imgs, imageChange(bi, ai))
		}
	}
	imgs = dedupe(imgs)
	if len(imgs) > 2 {
		imgs = append(imgs[:2], fmt.Sprintf("%d more images", len(imgs)-2))
	}
	parts = append(parts, imgs...)
	if b.replicas != a.replicas {
		parts = append(parts, fmt.Sprintf("replicas %s → %s", orUnset(b.replicas), orUnset(a.replicas)))
	}
	if b.secret != nil || a.secret != nil {
		var keys []string
		for _, k := range unionKeys(b.secret, a.secret) {
			bv, bok := b.secret[k]
			av, aok := a.secret[k]
			switch {
			case !bok:
				keys = append(keys, "key "+k+" added")
			case !aok:
				keys = append(keys, "key "+k+" removed")
			case bv != av:
				keys = append(keys, "key "+k+" changed")
			}
		}
		if len(keys) > 3 {
			keys = append(keys[:3], fmt.Sprintf("%d more keys changed", len(keys)-3))
		}
		parts = append(parts, keys...)
	}
	adds, dels, otherAdds, otherDels := 0, 0, 0, 0
	for _, l := range strings.Split(diff, "\n") {
		if l == "" || strings.HasPrefix(l, "@@") {
			continue
		}
		if l[0] != '+' && l[0] != '-' {
			continue
		}
		t := strings.TrimSpace(l[1:])
		explained := strings.HasPrefix(t, "image:") || strings.HasPrefix(t, "- image:") || strings.HasPrefix(t, "replicas:") || strings.Contains(t, "<redacted hmac:")
		if l[0] == '+' {
			adds++
			if !explained {
				otherAdds++
			}
		} else {
			dels++
			if !explained {
				otherDels++
			}
		}
	}
	if len(parts) == 0 {
		return plural(max(adds, dels), "line") + " changed"
	}
	if n := max(otherAdds, otherDels); n > 0 {
		parts = append(parts, plural(n, "more line")+" changed")
	}
	return strings.Join(parts, ", ")
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func unionKeys(a, b map[string]string) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// imageChange describes an image update: "image ghcr.io/x/api 1.2.3 →
// 1.3.0" when only the tag or digest changed, else both references whole.
func imageChange(before, after string) string {
	bn, bv := splitImage(before)
	an, av := splitImage(after)
	if bn == an && bv != "" && av != "" {
		return fmt.Sprintf("image %s %s → %s", an, bv, av)
	}
	return fmt.Sprintf("image %s → %s", before, after)
}

// splitImage splits "repo[:tag][@digest]" into the repository and a short
// version: the tag, the digest shortened to 12 hex digits, or both.
func splitImage(ref string) (name, version string) {
	name = ref
	digest := ""
	if i := strings.Index(name, "@"); i >= 0 {
		name, digest = name[:i], name[i+1:]
		if alg, hexs, ok := strings.Cut(digest, ":"); ok && len(hexs) > 12 {
			digest = alg + ":" + hexs[:12]
		}
	}
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i+1:]
	}
	switch {
	case tag != "" && digest != "":
		return name, tag + "@" + digest
	case digest != "":
		return name, digest
	}
	return name, tag
}

// Render builds the diff comment for apps: those that failed to render
// first, then the rest in the order given.
//
// Each app gets a heading and one <details> section per changed resource;
// an app without changes gets a line saying so, and a side that failed to
// render is shown as the error (quoted, at most 2,000 bytes, with anything
// that looks like Secret data scrubbed). When the body would exceed
// opts.Limit, it is cut at a resource boundary and a note names what was
// left out; a single resource whose diff is larger than a quarter of the
// limit is truncated with a note. Render is safe for concurrent use.
//
// Everything that comes from the renders, the app names and environments,
// the notices, the title and the labels is escaped, so that no text of a
// repository can change the comment's structure: the marker stays the
// first line and the only one, each resource keeps its own section, and
// "No changes" is said only when there are none. Every value of a Secret
// of either side of any app (at least MinSecretValue bytes long, also in
// its base64 forms) is replaced by its fingerprint wherever else it
// appears: in other objects, names and render errors.
func Render(apps []AppRender, opts Options) Comment {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(max(limit, 8000), GitHubCommentLimit)
	fp := fingerprinter{key: fingerprintKey(opts)}

	// Every object of every render first: the values of all their Secrets
	// are scrubbed from everything else in the comment.
	ps, vals := parseApps(apps)
	sc := newScrubber(vals, fp)
	before, after, title := labels(opts, sc)

	var cm Comment
	results := compareApps(apps, ps, fp, sc, before, after, &cm)
	// A failed render is the one thing a reviewer must not miss: those apps
	// go first, where the size limit cannot cut them off.
	sort.SliceStable(results, func(i, j int) bool { return len(results[i].errs) > 0 && len(results[j].errs) == 0 })

	footer := ""
	if opts.Footer != "" {
		footer = "\n" + opts.Footer + "\n"
	}
	w := &bodyWriter{cm: &cm, room: limit - len(footer) - noteReserve, perResource: limit / 4}
	w.body.WriteString(summary(opts, sc, title, before, after, results, &cm))
	for _, r := range results {
		w.app(r)
	}
	if len(w.left) > 0 {
		w.body.WriteString("\n" + omittedNote(w.left, len(cm.Omitted)))
	}
	w.body.WriteString(footer)
	cm.Body = w.body.String()
	return cm
}

// parsed is one app's render, parsed into objects, or why it could not be.
type parsed struct {
	before, after []*yaml.Node
	bErr, aErr    error
}

// parseApps parses every app's renders and collects the values of every
// Secret in them.
func parseApps(apps []AppRender) ([]parsed, map[string]bool) {
	ps := make([]parsed, len(apps))
	vals := map[string]bool{}
	for i, ar := range apps {
		p := parsed{bErr: ar.BeforeErr, aErr: ar.AfterErr}
		if p.bErr == nil {
			p.before, p.bErr = parseObjects(ar.Before)
		}
		if p.aErr == nil {
			p.after, p.aErr = parseObjects(ar.After)
		}
		secretValues(p.before, vals)
		secretValues(p.after, vals)
		ps[i] = p
	}
	return ps, vals
}

// labels are the two sides' labels and the title, defaulted, scrubbed
// and escaped.
func labels(opts Options, sc *scrubber) (before, after, title string) {
	before, after, title = opts.BeforeLabel, opts.AfterLabel, opts.Title
	if before == "" {
		before = "before"
	}
	if after == "" {
		after = "after"
	}
	if title == "" {
		title = "Rendered manifests"
	}
	return markdown.Line(sc.text(before)), markdown.Line(sc.text(after)), markdown.Text(sc.text(title))
}

// appResult is one app's part of the comment.
type appResult struct {
	AppRender
	changes []Change
	errs    []string // Markdown blocks for failed sides
	ns      string   // namespace shared by every namespaced resource
}

// compareApps compares each app's two sides, counting changes and failed
// renders in cm.
func compareApps(apps []AppRender, ps []parsed, fp fingerprinter, sc *scrubber, before, after string, cm *Comment) []appResult {
	var results []appResult
	for i, ar := range apps {
		ar.App, ar.Environment = sc.text(ar.App), sc.text(ar.Environment)
		r := appResult{AppRender: ar}
		var b, a []*resource
		bErr, aErr := ps[i].bErr, ps[i].aErr
		if bErr == nil {
			b, bErr = parseResources(ps[i].before, fp, sc)
		}
		if aErr == nil {
			a, aErr = parseResources(ps[i].after, fp, sc)
		}
		if bErr != nil {
			r.errs = append(r.errs, errorBlock(before, bErr, aErr == nil, sc))
		}
		if aErr != nil {
			r.errs = append(r.errs, errorBlock(after, aErr, false, sc))
			cm.Failures = append(cm.Failures, Failure{App: ar.App, Environment: ar.Environment, File: ar.File, Message: sc.text(aErr.Error())})
		}
		if len(r.errs) > 0 {
			cm.RenderErrors++
		}
		if aErr == nil {
			if bErr != nil {
				b = nil // compare with nothing: every resource shows whole
			}
			r.changes = compare(b, a)
			r.ns = sharedNamespace(b, a)
		}
		for i := range r.changes {
			r.changes[i].App, r.changes[i].Environment = ar.App, ar.Environment
		}
		cm.Changes = append(cm.Changes, r.changes...)
		results = append(results, r)
	}
	return results
}

// summary is the comment's head: the marker, the title, the line that
// counts what changed and failed, and the notices.
func summary(opts Options, sc *scrubber, title, before, after string, results []appResult, cm *Comment) string {
	var head strings.Builder
	if opts.Key != "" {
		head.WriteString(MarkerFor(opts.Key) + "\n")
	}
	fmt.Fprintf(&head, "### %s\n\n", title)
	changedApps := 0
	for _, r := range results {
		if len(r.changes) > 0 {
			changedApps++
		}
	}
	switch {
	case len(cm.Changes) > 0:
		fmt.Fprintf(&head, "**%s changed** in %s, %s → %s.", plural(len(cm.Changes), "resource"), plural(changedApps, "app"), before, after)
	case cm.RenderErrors == 0:
		fmt.Fprintf(&head, "No changes to the rendered manifests of %s, %s → %s.", plural(len(results), "app"), before, after)
	default:
		fmt.Fprintf(&head, "Nothing to compare, %s → %s.", before, after)
	}
	if cm.RenderErrors > 0 {
		fmt.Fprintf(&head, " :warning: %s failed to render.", plural(cm.RenderErrors, "app"))
	}
	head.WriteString("\n")
	head.WriteString(directWarning(opts, cm))
	head.WriteString(noticeList(opts.Notices, sc))
	return head.String()
}

// directWarning says what a merge changes, in environments meant to be
// reached by promotion, without one; it records those changes in cm.
func directWarning(opts Options, cm *Comment) string {
	if opts.Direct == nil {
		return ""
	}
	apps, envs := map[string]bool{}, map[string]bool{}
	for _, c := range cm.Changes {
		if opts.Direct(c.App, c.Environment) {
			cm.Direct = append(cm.Direct, c)
			apps[c.App], envs[c.Environment] = true, true
		}
	}
	if len(cm.Direct) == 0 {
		return ""
	}
	names := make([]string, 0, len(envs))
	for e := range envs {
		names = append(names, markdown.Code(e))
	}
	sort.Strings(names)
	return fmt.Sprintf("\n:warning: **Merging this changes %s directly**: %s in %s, without a promotion.\n",
		strings.Join(names, ", "), plural(len(cm.Direct), "resource"), plural(len(apps), "app"))
}

// bodyWriter lays the apps' sections out within the comment's room: once
// one does not fit, it and everything after it are left out and listed.
type bodyWriter struct {
	cm          *Comment
	body        strings.Builder
	room        int // bytes the sections may fill, the footer and note aside
	perResource int // bytes one resource's section may take
	overflow    bool
	left        []leftOut
}

// app writes r's heading, render errors and sections, or leaves them out.
func (w *bodyWriter) app(r appResult) {
	header := appHeading(r.App, r.Environment, len(r.changes), len(r.errs) > 0, r.ns)
	for _, e := range r.errs {
		header += "\n" + e
	}
	if len(r.changes) == 0 && len(r.errs) == 0 {
		header = strings.TrimSuffix(header, "\n") + "\n"
	}
	if w.overflow {
		w.omit(r, 0)
		return
	}
	var sections []string
	for _, c := range r.changes {
		s, cut := section(c, r.ns, w.perResource)
		if cut {
			w.cm.Truncated++
		}
		sections = append(sections, s)
	}
	first := 0
	if len(sections) > 0 {
		first = len(sections[0])
	}
	if w.body.Len()+1+len(header)+first > w.room {
		w.overflow = true
		w.omit(r, 0)
		return
	}
	w.body.WriteString("\n" + header)
	for i, s := range sections {
		if w.body.Len()+len(s) > w.room {
			w.overflow = true
			w.omit(r, i)
			return
		}
		w.body.WriteString(s)
	}
}

// omit leaves r's changes from the from-th on out of the comment, listed in
// the closing note.
func (w *bodyWriter) omit(r appResult, from int) {
	w.cm.Omitted = append(w.cm.Omitted, r.changes[from:]...)
	for _, c := range r.changes[from:] {
		w.left = append(w.left, leftOut{app: r.App, name: displayName(c, r.ns)})
	}
	switch {
	case len(r.changes) > 0:
	case len(r.errs) > 0:
		w.left = append(w.left, leftOut{app: r.App, note: "(failed to render)"})
	default:
		w.left = append(w.left, leftOut{app: r.App, note: "(no changes)"})
	}
}

// Notice is something a reviewer should know that is not a resource, such
// as an Application manifest promobot could not use. Both fields are plain
// text, escaped when rendered.
type Notice struct {
	// File is the repository file the notice is about.
	File string
	// Message says what is wrong with it.
	Message string
}

// maxNotices bounds the notices listed; maxNoticeBytes each field of one.
const (
	maxNotices     = 10
	maxNoticeBytes = 200
)

// noticeList renders the notices as a list after the summary line.
func noticeList(notices []Notice, sc *scrubber) string {
	if len(notices) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n:warning: **%s not used:**\n\n", plural(len(notices), "manifest"))
	for i, n := range notices {
		if i == maxNotices {
			fmt.Fprintf(&b, "- and %d more\n", len(notices)-maxNotices)
			break
		}
		fmt.Fprintf(&b, "- %s: %s\n", markdown.Code(cutBytes(sc.text(n.File), maxNoticeBytes)), markdown.Text(cutBytes(sc.text(n.Message), maxNoticeBytes)))
	}
	return b.String()
}

// cutBytes keeps at most n bytes of s, cut at a rune boundary, and marks a
// cut with "…" (3 more bytes): notices are bounded in bytes, as the
// comment's limit is.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func appHeading(app, env string, changes int, failed bool, ns string) string {
	h := "#### " + markdown.Code(app)
	if env != "" {
		h += " · " + markdown.Text(env)
	}
	switch {
	case changes == 0 && failed:
		h += " · render failed"
	case changes == 0:
		h += " · no changes"
	default:
		h += " · " + plural(changes, "resource") + " changed"
	}
	h += "\n"
	if ns != "" && changes > 0 {
		h += "\nNamespace " + markdown.Code(ns) + ".\n"
	}
	return h
}

// sharedNamespace returns the namespace of every namespaced resource of
// both sides when there is exactly one, so headings can leave it out.
func sharedNamespace(sides ...[]*resource) string {
	ns := ""
	for _, rs := range sides {
		for _, r := range rs {
			if r.namespace == "" {
				continue
			}
			if ns != "" && r.namespace != ns {
				return ""
			}
			ns = r.namespace
		}
	}
	return ns
}

// displayName is Kind/name, with the namespace when it is not the app's
// shared one.
func displayName(c Change, sharedNS string) string {
	if c.Namespace == "" || c.Namespace == sharedNS {
		return c.Kind + "/" + c.Name
	}
	return c.Kind + "/" + c.Namespace + "/" + c.Name
}

// section renders one resource's <details>; cut reports a truncated diff.
func section(c Change, sharedNS string, maxDiff int) (string, bool) {
	d := c.Diff
	note := ""
	cut := false
	if len(d) > maxDiff {
		keep := strings.LastIndex(d[:maxDiff], "\n") + 1
		rest := strings.Count(d[keep:], "\n")
		d = d[:keep]
		note = fmt.Sprintf("\n*Diff truncated: %s not shown. Run `promobot diff` locally to see all of it.*\n", plural(rest, "more line"))
		cut = true
	}
	fence := markdown.Fence(d)
	summary := markdown.HTML(displayName(c, sharedNS) + ": " + c.Summary)
	return fmt.Sprintf("\n<details><summary>%s</summary>\n\n%sdiff\n%s%s\n%s</details>\n", summary, fence, d, fence, note), cut
}

var secretish = regexp.MustCompile(`(?i)("?(?:string|binary)?data"?\s*[:=]\s*)(map\[[^\]]*\]|\{[^}]*\})`)

// errorBlock quotes a render error. Renderer messages can include parts of
// the objects they failed on, so anything shaped like a data map is
// scrubbed (best effort: the message is not a parsed object), so is every
// Secret value the scrubber knows, and the text is bounded. side is
// Markdown.
func errorBlock(side string, err error, showsWhole bool, sc *scrubber) string {
	msg := sc.text(secretish.ReplaceAllString(err.Error(), "${1}<redacted>"))
	if len(msg) > maxErrorBytes {
		cut := maxErrorBytes
		for cut > 0 && !utf8.RuneStart(msg[cut]) { // do not split a UTF-8 sequence
			cut--
		}
		msg = msg[:cut] + "\n… (error truncated)"
	}
	msg = strings.TrimRight(msg, "\n")
	fence := markdown.Fence(msg)
	s := fmt.Sprintf(":warning: **%s failed to render:**\n\n%stext\n%s\n%s\n", side, fence, msg, fence)
	if showsWhole {
		s += "\nEvery resource below is shown whole, as there is nothing to compare it with.\n"
	}
	return s
}

// leftOut is an entry of the note naming what was left out: a resource
// of an app (name), or an app without changes (note, in parentheses).
type leftOut struct {
	app, name, note string
}

// omittedNote names what the budget left out, itself bounded by
// noteReserve.
func omittedNote(left []leftOut, changes int) string {
	var b strings.Builder
	if changes > 0 {
		fmt.Fprintf(&b, "---\n\n:scissors: **%s** left out to stay under GitHub's comment size limit: ", plural(changes, "more changed resource"))
	} else {
		b.WriteString("---\n\n:scissors: Left out to stay under GitHub's comment size limit: ")
	}
	const tail = ". Run `promobot diff` locally to see everything.\n"
	listed := 0
	lastApp := ""
	for i, l := range left {
		var entry string
		switch {
		case l.note != "":
			entry = markdown.Code(l.app) + " " + l.note
		case i > 0 && l.app == lastApp:
			entry = ", " + markdown.Text(l.name)
		default:
			entry = markdown.Code(l.app) + ": " + markdown.Text(l.name)
		}
		if i > 0 && (l.app != lastApp || l.note != "") {
			entry = "; " + entry
		}
		if b.Len()+len(entry)+len(tail)+40 > noteReserve {
			break
		}
		b.WriteString(entry)
		lastApp = l.app
		listed++
	}
	if rest := len(left) - listed; rest > 0 {
		fmt.Fprintf(&b, " and %d more", rest)
	}
	b.WriteString(tail)
	return b.String()
}
