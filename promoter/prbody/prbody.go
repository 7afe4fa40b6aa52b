// Package prbody writes and reads back the title and body of a promotion
// pull request. The body carries a hidden, machine-readable copy of the
// promotion, so promobot can tell later what an open promotion PR promotes
// (to update it, or to close it when a newer one supersedes it) without
// parsing its own prose.
package prbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/promobot/promobot/internal/markdown"
)

// blockStart opens the hidden block; blockEnd closes it.
const (
	blockStart = "<!-- promobot:promotion "
	blockEnd   = " -->"
)

// blockVersion is the format of the hidden block; fields may be added
// within a version, so readers ignore fields they do not know.
const blockVersion = 1

// maxTitle is GitHub's limit on a pull request title.
const maxTitle = 256

// Ref is how a kustomization images: entry sets an image: a new name, a
// new tag and a digest, each optional.
type Ref struct {
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// IsZero reports whether r sets nothing (an image the target lacks).
func (r Ref) IsZero() bool { return r == Ref{} }

// Image is one images: entry and its value before and after the promotion.
type Image struct {
	// Name is the entry's name: the image as the manifests spell it.
	Name string `json:"name"`
	// From is the target environment's current entry (zero when it has
	// none); To is what the promotion sets.
	From Ref `json:"from"`
	To   Ref `json:"to"`
}

// Revision is a pinned Application's targetRevision before and after a
// revision promotion.
type Revision struct {
	// From is the pin the target runs now, as written (a tag, a SHA, a
	// branch); To is the commit the promotion pins.
	From string `json:"from"`
	To   string `json:"to"`
}

// Rollback marks a pull request that rolls an environment back to what
// it ran at Commit.
type Rollback struct {
	// Point is what /rollback named: previous, a commit, #<pull request>.
	Point string `json:"point"`
	// Commit is the commit whose state the environment goes back to.
	Commit string `json:"commit"`
}

// Promotion is what a promotion pull request does and why.
type Promotion struct {
	// App is the app promoted (its base name, e.g. my-api-service).
	App string `json:"app"`
	// From and To are the source and target environments.
	From string `json:"from"`
	To   string `json:"to"`
	// Images are the images set in To, in order.
	Images []Image `json:"images"`
	// Revision is set for a revision promotion: the target Application's
	// pin moves, carrying every change between the two commits.
	Revision *Revision `json:"revision,omitempty"`
	// Rollback is set for a rollback: To goes back to what it ran at a
	// commit (From is then To).
	Rollback *Rollback `json:"rollback,omitempty"`
	// SourcePR is the pull request whose change is promoted (0 for none);
	// SourceCommit is the commit (its merge commit) promoted.
	SourcePR     int    `json:"sourcePR,omitempty"`
	SourceCommit string `json:"sourceCommit,omitempty"`
	// RequestedBy is the login that commented /promote; empty for an
	// automatic promotion.
	RequestedBy string `json:"requestedBy,omitempty"`
	// Auto marks a promotion opened by promobot after From was applied
	// and healthy.
	Auto bool `json:"auto,omitempty"`
	// RepoURL is the repository's web URL (https://github.com/acme/gitops);
	// when set, the source PR and commit are full links, else GitHub's
	// short references (#12, the SHA).
	RepoURL string `json:"-"`
}

// Title is the pull request title: "Promote <app> to <env>: <image> <old>
// → <new>", naming the first image and counting the others, at most 256
// characters.
func Title(p Promotion) string {
	t := fmt.Sprintf("Promote %s to %s", p.App, p.To)
	if rb := p.Rollback; rb != nil {
		t = fmt.Sprintf("Roll back %s in %s to %s", p.App, p.To, shortRev(rb.Commit))
	}
	if r := p.Revision; r != nil {
		t += fmt.Sprintf(": revision %s → %s", shortRev(r.From), shortRev(r.To))
	}
	if len(p.Images) > 0 {
		img := p.Images[0]
		from, to := versions(img)
		t += fmt.Sprintf(": %s %s → %s", displayName(img), from, to)
		if n := len(p.Images) - 1; n == 1 {
			t += " (+1 more image)"
		} else if n > 1 {
			t += fmt.Sprintf(" (+%d more images)", n)
		}
	}
	t = strings.NewReplacer("\r", " ", "\n", " ").Replace(t)
	if utf8.RuneCountInString(t) > maxTitle {
		r := []rune(t)
		t = string(r[:maxTitle-1]) + "…"
	}
	return t
}

// shortRev shortens a full commit SHA to 7 characters; tags and branches
// stay as written.
func shortRev(rev string) string {
	if len(rev) == 40 && strings.Trim(strings.ToLower(rev), "0123456789abcdef") == "" {
		return rev[:7]
	}
	return rev
}

// displayName is the image's repository after the promotion.
func displayName(img Image) string {
	if img.To.NewName != "" && img.To.NewName == img.From.NewName {
		return img.To.NewName
	}
	return img.Name
}

// versions returns short before/after versions of an image for a title:
// tags (or short digests) when the repository stays, whole references
// when it moves.
func versions(img Image) (string, string) {
	if img.From.IsZero() {
		return "(new)", version(img.To)
	}
	if img.From.NewName != img.To.NewName {
		return ref(img.Name, img.From), ref(img.Name, img.To)
	}
	return version(img.From), version(img.To)
}

// version is a tag, a digest shortened to 12 hex digits, or both.
func version(r Ref) string {
	d := r.Digest
	if alg, hex, ok := strings.Cut(d, ":"); ok && len(hex) > 12 {
		d = alg + ":" + hex[:12]
	}
	switch {
	case r.NewTag != "" && d != "":
		return r.NewTag + "@" + d
	case d != "":
		return d
	case r.NewTag != "":
		return r.NewTag
	}
	return "(unchanged)"
}

// ref is the full image reference an entry produces.
func ref(name string, r Ref) string {
	if r.NewName != "" {
		name = r.NewName
	}
	if r.NewTag != "" {
		name += ":" + r.NewTag
	}
	if r.Digest != "" {
		name += "@" + r.Digest
	}
	return name
}

// Body is the pull request description: what is promoted where, a table of
// images, where it comes from and who asked, and the hidden block
// ParsePromotionBlock reads back.
func Body(p Promotion) string {
	var b strings.Builder
	if rb := p.Rollback; rb != nil {
		fmt.Fprintf(&b, "Rolls **%s** in %s back to what it ran at %s (%s).\n\n", markdown.Text(p.App), markdown.Code(p.To),
			markdown.Code(shortRev(rb.Commit)), markdown.Code("/rollback "+p.App+" to "+rb.Point))
	} else {
		fmt.Fprintf(&b, "Promotes **%s** from %s to %s.\n\n", markdown.Text(p.App), markdown.Code(p.From), markdown.Code(p.To))
	}
	if len(p.Images) > 0 {
		fmt.Fprintf(&b, "| Image | %s now | After merge |\n|---|---|---|\n", markdown.CellCode(p.To))
		for _, img := range p.Images {
			from := "—"
			if !img.From.IsZero() {
				from = markdown.CellCode(ref(img.Name, img.From))
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", markdown.CellCode(img.Name), from, markdown.CellCode(ref(img.Name, img.To)))
		}
		b.WriteString("\n")
	}
	if r := p.Revision; r != nil {
		fmt.Fprintf(&b, "| | %s now | After merge |\n|---|---|---|\n| `targetRevision` | %s | %s |\n\n",
			markdown.CellCode(p.To), markdown.CellCode(r.From), markdown.CellCode(r.To))
	}
	var src []string
	if p.SourcePR > 0 {
		src = append(src, "pull request "+p.prLink())
	}
	if p.SourceCommit != "" {
		src = append(src, "commit "+p.commitLink())
	}
	if len(src) > 0 && p.Rollback == nil {
		fmt.Fprintf(&b, "Source: %s in %s.\n", strings.Join(src, ", "), markdown.Code(p.From))
	}
	switch {
	case p.Auto:
		fmt.Fprintf(&b, "Opened automatically: %s applied the source and is healthy.\n", markdown.Code(p.From))
	case p.RequestedBy != "" && p.Rollback != nil:
		fmt.Fprintf(&b, "Requested by @%s with `/rollback`.\n", markdown.Text(p.RequestedBy))
	case p.RequestedBy != "":
		fmt.Fprintf(&b, "Requested by @%s with `/promote`.\n", markdown.Text(p.RequestedBy))
	}
	what := "these images"
	if p.Revision != nil {
		what = "this revision, with every change it holds,"
	}
	fmt.Fprintf(&b, "\nMerging this pull request deploys %s to %s. A later promotion of **%s** to %s updates this pull request.\n",
		what, markdown.Code(p.To), markdown.Text(p.App), markdown.Code(p.To))
	b.WriteString("\n" + block(p) + "\n")
	return b.String()
}

func (p Promotion) prLink() string {
	if p.RepoURL == "" {
		return fmt.Sprintf("#%d", p.SourcePR)
	}
	return fmt.Sprintf("[#%d](%s/pull/%d)", p.SourcePR, strings.TrimSuffix(p.RepoURL, "/"), p.SourcePR)
}

func (p Promotion) commitLink() string {
	short := p.SourceCommit
	if len(short) > 7 {
		short = short[:7]
	}
	if p.RepoURL == "" {
		return md(p.SourceCommit)
	}
	return fmt.Sprintf("[`%s`](%s/commit/%s)", md(short), strings.TrimSuffix(p.RepoURL, "/"), md(p.SourceCommit))
}

// md keeps user-controlled text from breaking out of inline code or a
// table cell.
func md(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ", "\r", " ").Replace(s)
}

type wire struct {
	V int `json:"v"`
	Promotion
}

func block(p Promotion) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// HTML escaping stays on: it writes ">" as \u003e, so the JSON can
	// never end the HTML comment it sits in.
	if err := enc.Encode(wire{V: blockVersion, Promotion: p}); err != nil {
		return blockStart + "{}" + blockEnd // a Promotion always encodes; never reached
	}
	return blockStart + strings.TrimSuffix(buf.String(), "\n") + blockEnd
}

// ErrNoBlock is returned by ParsePromotionBlock for a body without a
// promotion block (a pull request promobot did not open).
var ErrNoBlock = errors.New("no promobot promotion block")

// ParsePromotionBlock reads the promotion back from a pull request body
// written by Body. It returns ErrNoBlock when the body has none, and an
// error for a block that is damaged or of an unknown version. RepoURL is
// not stored and comes back empty.
func ParsePromotionBlock(body string) (Promotion, error) {
	// The block is written last; a value shown earlier in the body (an
	// image name, say) may spell a block of its own, and is not it.
	i := strings.LastIndex(body, blockStart)
	if i < 0 {
		return Promotion{}, ErrNoBlock
	}
	rest := body[i+len(blockStart):]
	j := strings.Index(rest, "-->")
	if j < 0 {
		return Promotion{}, errors.New("promotion block is not closed")
	}
	var w wire
	dec := json.NewDecoder(strings.NewReader(strings.TrimSpace(rest[:j])))
	if err := dec.Decode(&w); err != nil {
		return Promotion{}, fmt.Errorf("promotion block decode: %w", err)
	}
	if w.V != blockVersion {
		return Promotion{}, fmt.Errorf("promotion block version %d: want %d", w.V, blockVersion)
	}
	return w.Promotion, nil
}
