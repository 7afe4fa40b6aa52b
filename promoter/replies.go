package promoter

import (
	"fmt"
	"strings"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
)

// The bot's replies. Each quotes the command it answers, says what
// happened and, when nothing happened, why and what to do.

// quoteLine quotes the command a reply answers, escaped so that it reads
// as typed and cannot change the reply's structure.
func quoteLine(line string) string { return "> " + markdown.Text(line) + "\n\n" }

// replyRefused answers a user who may not promote.
func replyRefused(line, login, role string, who gitops.Promoters) string {
	var b strings.Builder
	b.WriteString(quoteLine(line))
	fmt.Fprintf(&b, "@%s, you may not promote in this repository: promotions need write, maintain or admin permission", mdText(login))
	if len(who.Users) > 0 || len(who.Teams) > 0 {
		b.WriteString(", or a place under `promoters` in `.promobot.yaml`")
	}
	fmt.Fprintf(&b, ", and your permission is %s. Nothing was changed.\n", markdown.Code(role))
	return b.String()
}

// replyNotMerged answers /promote on a pull request that is not merged.
func replyNotMerged(line string) string {
	return quoteLine(line) + "This pull request is not merged yet. promobot promotes the merge commit of a merged pull request, " +
		"once its environment has applied it: merge it first, then comment `/promote` again.\n"
}

// replyConfig answers a command in a repository whose configuration on the
// default branch is broken.
func replyConfig(line string, err error) string {
	msg := markdown.Clip(err.Error(), 2000)
	fence := markdown.Fence(msg)
	return quoteLine(line) + "promobot cannot promote in this repository: its configuration on the default branch is invalid.\n\n" +
		fence + "\n" + msg + "\n" + fence + "\n"
}

// replyReason answers with a reason that stops the whole command.
func replyReason(line, reason string) string {
	return quoteLine(line) + reason + "\n"
}

// replyFailure answers a command promobot could not carry out.
func replyFailure(line string, err error) string {
	return quoteLine(line) + "promobot could not carry out this command: " + mdText(markdown.Clip(err.Error(), 500)) +
		"\n\nComment the command again to retry.\n"
}

// nothingSelected explains a selection that matched no app.
func nothingSelected(steps []gitops.Step, sel Selection) string {
	if len(steps) == 0 {
		return "This repository has no promotion pipeline: promobot found fewer than two environments. " +
			"Name the environments of your Argo CD Applications (`overlays/<env>`, a `-<env>` name suffix) " +
			"or list the steps under `pipeline:` in `.promobot.yaml`."
	}
	var flow []string
	for _, s := range steps {
		flow = append(flow, markdown.Code(s.From)+" → "+markdown.Code(s.To))
	}
	switch {
	case sel.App != "" && sel.To != "":
		return fmt.Sprintf("%s is not promoted into %s. The pipeline is %s.", markdown.Code(sel.App), markdown.Code(sel.To), strings.Join(flow, ", "))
	case sel.App != "":
		return fmt.Sprintf("%s is not promoted anywhere. The pipeline is %s.", markdown.Code(sel.App), strings.Join(flow, ", "))
	case sel.To != "":
		return fmt.Sprintf("This pull request changed no app that is promoted into %s. Name one: %s.", markdown.Code(sel.To), markdown.Code("/promote <app> to "+sel.To))
	}
	return fmt.Sprintf("This pull request changed no app that has a next environment (the pipeline is %s). Name one: `/promote <app>`.",
		strings.Join(flow, ", "))
}

// replyOutcomes answers a command whose promotions did not all go
// through: one line per app.
func replyOutcomes(line string, outs []outcome) string {
	var b strings.Builder
	b.WriteString(quoteLine(line))
	if len(outs) == 1 && outs[0].Kind == outcomeUnchanged {
		o := outs[0]
		fmt.Fprintf(&b, "%s already runs these images of %s, so there is nothing to promote:\n\n", markdown.Code(o.Plan.To()), markdown.Code(o.Plan.App))
		for _, img := range o.Plan.Images {
			fmt.Fprintf(&b, "- %s\n", markdown.Code(img.Reference()))
		}
		return b.String()
	}
	for _, o := range outs {
		fmt.Fprintf(&b, "- %s → %s: ", markdown.Code(o.Plan.App), markdown.Code(o.Plan.To()))
		switch o.Kind {
		case outcomeOpened:
			fmt.Fprintf(&b, "opened #%d.\n", o.PR.Number)
		case outcomeUpdated:
			fmt.Fprintf(&b, "updated #%d.\n", o.PR.Number)
		case outcomeAlreadyOpen:
			fmt.Fprintf(&b, "#%d already promotes these images.\n", o.PR.Number)
		case outcomeUnchanged:
			fmt.Fprintf(&b, "%s already runs these images.\n", markdown.Code(o.Plan.To()))
		case outcomeRefused:
			fmt.Fprintf(&b, "not promoted. %s\n", o.Reason)
		default:
			fmt.Fprintf(&b, "failed: %s\n", o.Reason)
		}
	}
	return b.String()
}

// needsReply reports whether outs need a reply beyond the reactions:
// anything but pull requests opened or updated.
func needsReply(outs []outcome) bool {
	for _, o := range outs {
		if o.Kind != outcomeOpened && o.Kind != outcomeUpdated {
			return true
		}
	}
	return false
}

// mdText keeps text from GitHub or from errors from breaking a reply (see
// markdown.Text).
func mdText(s string) string {
	return markdown.Text(s)
}

// mdCode keeps text inside inline code.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s)
}

// stripMarkdown turns a Markdown reason into plain text for facts.
func stripMarkdown(s string) string {
	return strings.ReplaceAll(s, "`", "")
}
