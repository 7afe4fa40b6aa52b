package command

import (
	"fmt"
	"sort"
	"strings"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
)

// HelpText renders the reply to /promote help: what the command does, the
// repository's pipeline with its gates and apps, and who may promote
// (repository writers plus who). It is Markdown for a PR comment.
func HelpText(pipeline []gitops.Step, who gitops.Promoters) string {
	var b strings.Builder
	b.WriteString("### promobot `/promote`\n\n")
	b.WriteString("Comment `/promote` on a merged pull request to promote the images it changed in one environment " +
		"to the next environment of the pipeline. promobot opens a promotion pull request that sets the same image tags " +
		"in the next environment's `kustomization.yaml`, with a diff of the rendered manifests; merging it deploys them. " +
		"A later promotion of the same app and environment updates that pull request.\n\n")
	b.WriteString("| Command | What it does |\n|---|---|\n")
	b.WriteString("| `/promote` | promote every app this pull request changed to its next environment |\n")
	b.WriteString("| `/promote <app>` | promote one app |\n")
	b.WriteString("| `/promote to <env>` | promote into the named environment |\n")
	b.WriteString("| `/promote <app> to <env>` | promote one app into the named environment |\n")
	b.WriteString("| `/promote help` | show this help |\n")
	b.WriteString("| `/rollback <app> [to previous \\| <commit> \\| #<pr>]` | open the pull request that puts the app's last environment back to what it ran then |\n")
	b.WriteString("| `/diff` | render this pull request's diff comment again |\n")
	b.WriteString("| `/sync [<app>]` | apply the repository's apps (or one) again now; their statuses on the default branch's head tell how it went |\n")
	b.WriteString("| `/freeze [<env>] [reason]` | admins: stop applies of an environment (or all) and promotions into it |\n")
	b.WriteString("| `/unfreeze [<env>]` | admins: lift the freeze; the next push applies |\n\n")

	b.WriteString("**Pipeline**\n\n")
	if len(pipeline) == 0 {
		b.WriteString("This repository has no pipeline yet: promobot found fewer than two environments. " +
			"Name the environments of your Argo CD Applications (`overlays/<env>`, a `-<env>` name suffix) " +
			"or list the steps under `pipeline:` in `.promobot.yaml`.\n\n")
	}
	for _, s := range pipeline {
		fmt.Fprintf(&b, "- %s → %s", markdown.Code(s.From), markdown.Code(s.To))
		var gates []string
		if s.Gates.RequiresHealthy() {
			gates = append(gates, fmt.Sprintf("%s must have applied the commit and be healthy", markdown.Code(s.From)))
		}
		if s.Gates.Soak > 0 {
			gates = append(gates, fmt.Sprintf("after %s in %s", s.Gates.Soak, markdown.Code(s.From)))
		}
		for _, w := range s.Gates.Freeze {
			gates = append(gates, "no promotion during "+markdown.Line(w.String()))
		}
		if len(gates) > 0 {
			b.WriteString(": " + strings.Join(gates, "; "))
		}
		if s.Strategy != "" && s.Strategy != gitops.StrategyImages {
			fmt.Fprintf(&b, " (strategy %s)", markdown.Code(s.Strategy))
		}
		if s.AutoPromote {
			b.WriteString(" (promoted automatically)")
		}
		b.WriteString("\n")
		if apps := appNames(s); len(apps) > 0 {
			fmt.Fprintf(&b, "  - apps: %s\n", strings.Join(apps, ", "))
		}
	}
	if len(pipeline) > 0 {
		b.WriteString("\n")
	}

	b.WriteString("**Who may promote**\n\n")
	b.WriteString("Users with write, maintain or admin permission on this repository")
	var extra []string
	for _, u := range who.Users {
		extra = append(extra, "@"+u.Login)
	}
	for _, t := range who.Teams {
		extra = append(extra, "@"+t)
	}
	if len(extra) > 0 {
		b.WriteString(", and " + strings.Join(extra, ", "))
	}
	b.WriteString(".\n\n")

	b.WriteString("Commands must start a line. Quoted lines and code blocks are ignored, and when a comment holds " +
		"several commands only the first one runs. Rules come from `.promobot.yaml` on the default branch.\n")
	return b.String()
}

func appNames(s gitops.Step) []string {
	seen := map[string]bool{}
	var names []string
	for _, p := range s.Pairs {
		n := fmt.Sprintf("%s (%s → %s)", markdown.Code(p.Base), markdown.Text(p.From.Name), markdown.Text(p.To.Name))
		if p.Base == p.From.Name {
			n = fmt.Sprintf("%s → %s", markdown.Code(p.From.Name), markdown.Code(p.To.Name))
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
