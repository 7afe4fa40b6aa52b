package command

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/test/kit"
)

var known = Known{
	Apps:         []string{"my-api-service", "web", "worker"},
	Environments: []string{"staging", "production"},
}

func promote(app, env, line string) Result {
	return Result{Kind: KindCommand, Line: line, Command: Command{Verb: VerbPromote, App: app, Env: env, Line: line}}
}

func replyOf(line, suggestion, msg string) Result {
	return Result{Kind: KindReply, Line: line, Suggestion: suggestion, Reply: "> " + line + "\n\n" + msg}
}

const hint = " Comment `/promote help` to see what promobot understands."

const usageTail = " promobot understands `/promote`, `/promote <app>`, `/promote to <env>`, `/promote <app> to <env>` and `/promote help`."

func TestParse(t *testing.T) {
	ignore := Result{Kind: KindIgnore}
	tests := []struct {
		name  string
		body  string
		known *Known // nil: the default known lists
		want  Result
	}{
		// The forms.
		{name: "bare", body: "/promote", want: promote("", "", "/promote")},
		{name: "app", body: "/promote web", want: promote("web", "", "/promote web")},
		{name: "to env", body: "/promote to production", want: promote("", "production", "/promote to production")},
		{name: "app to env", body: "/promote worker to staging", want: promote("worker", "staging", "/promote worker to staging")},
		{name: "help", body: "/promote help", want: Result{Kind: KindCommand, Line: "/promote help", Command: Command{Verb: VerbHelp, Line: "/promote help"}}},
		{name: "--help", body: "/promote --help", want: Result{Kind: KindCommand, Line: "/promote --help", Command: Command{Verb: VerbHelp, Line: "/promote --help"}}},

		// Case, spacing, punctuation, surrounding text.
		{name: "upper case everywhere", body: "/PROMOTE Web TO Production", want: promote("web", "production", "/PROMOTE Web TO Production")},
		{name: "leading spaces and CRLF", body: "Looks good.\r\n   /promote to production\r\nthanks", want: promote("", "production", "/promote to production")},
		{name: "trailing punctuation and backticks", body: "/promote `web` to production.", want: promote("web", "production", "/promote `web` to production.")},
		{name: "after other text lines", body: "Staging looks healthy.\n\n/promote\n", want: promote("", "", "/promote")},
		{name: "mid-line is text", body: "please /promote to production", want: ignore},
		{name: "list item is text", body: "- /promote", want: ignore},
		{name: "empty comment", body: "", want: ignore},

		// Quotes, code, comments.
		{name: "quoted", body: "> /promote", want: ignore},
		{name: "quoted with space", body: "  > /promote to production", want: ignore},
		{name: "nested quote", body: ">> /promote", want: ignore},
		{name: "fenced backticks", body: "```\n/promote\n```", want: ignore},
		{name: "fenced with info string", body: "```sh\n/promote to production\n```\n", want: ignore},
		{name: "fenced tildes", body: "~~~\n/promote\n~~~", want: ignore},
		{name: "longer fence is not closed by a shorter one", body: "````\n```\n/promote\n````", want: ignore},
		{name: "tilde fence is not closed by backticks", body: "~~~\n```\n/promote\n```\n", want: ignore},
		{name: "unclosed fence runs to the end", body: "```\n/promote", want: ignore},
		{name: "command after a closed fence", body: "```\n/promote\n```\n/promote web", want: promote("web", "", "/promote web")},
		{name: "indented code", body: "Example:\n\n    /promote\n", want: ignore},
		{name: "tab-indented code", body: "\t/promote", want: ignore},
		{name: "three spaces still fire", body: "   /promote", want: promote("", "", "/promote")},
		{name: "html comment", body: "<!--\n/promote\n-->", want: ignore},
		{name: "one-line html comment then command", body: "<!-- template -->\n/promote", want: promote("", "", "/promote")},
		{name: "inline triple backticks are not a fence", body: "```inline``` text\n/promote", want: promote("", "", "/promote")},
		{name: "html comment opened mid-line", body: "Ship it <!-- hidden\n/promote to production\n-->", want: ignore},
		{name: "html comment closed mid-line", body: "Ship it <!-- note -->\n/promote", want: promote("", "", "/promote")},
		{name: "pre block", body: "<pre>\n/promote\n</pre>", want: ignore},
		{name: "command after a pre block", body: "<pre>x\n</pre>\n/promote web", want: promote("web", "", "/promote web")},
		{name: "script block", body: "<script type=x>\n/promote\n</script>", want: ignore},
		{name: "a tag that is not pre", body: "<presentation>\n/promote", want: promote("", "", "/promote")},

		// Other slash commands.
		{name: "lgtm", body: "/lgtm", want: ignore},
		{name: "approve", body: "/approve\n/assign @bob", want: ignore},
		{name: "promotion is another word", body: "/promotion", want: ignore},
		{name: "lone slash", body: "/", want: ignore},
		{name: "path", body: "/usr/bin/env", want: ignore},

		// First command wins.
		{name: "first of two commands", body: "/promote to production\n/promote help", want: promote("", "production", "/promote to production")},
		{name: "typo first wins over a later command", body: "/promte\n/promote", want: replyOf("/promte", "/promote", "Did you mean `/promote`?"+hint)},
		{name: "quoted command then a real one", body: "> /promote web\n/promote worker", want: promote("worker", "", "/promote worker")},

		// Misspellings and unknown names.
		{name: "misspelt verb", body: "/promte", want: replyOf("/promte", "/promote", "Did you mean `/promote`?"+hint)},
		{name: "transposed letters", body: "/pormote web", want: replyOf("/pormote web", "/promote web", "Did you mean `/promote web`?"+hint)},
		{name: "misspelt verb keeps the arguments", body: "/promot to prodution", want: replyOf("/promot to prodution", "/promote to production", "Did you mean `/promote to production`?"+hint)},
		{name: "misspelt environment", body: "/promote to prodution", want: replyOf("/promote to prodution", "/promote to production", "There is no environment `prodution`. Did you mean `/promote to production`?"+hint)},
		{name: "environment alias", body: "/promote to prod", want: replyOf("/promote to prod", "/promote to production", "There is no environment `prod`. Did you mean `/promote to production`?"+hint)},
		{name: "unknown environment", body: "/promote to mars", want: replyOf("/promote to mars", "", "There is no environment `mars`. Environments: `staging`, `production`."+hint)},
		{name: "misspelt app", body: "/promote my-api-servce", want: replyOf("/promote my-api-servce", "/promote my-api-service", "There is no app `my-api-servce`. Did you mean `/promote my-api-service`?"+hint)},
		{name: "partial app name", body: "/promote api", want: replyOf("/promote api", "/promote my-api-service", "There is no app `api`. Did you mean `/promote my-api-service`?"+hint)},
		{name: "misspelt app and environment", body: "/promote wbe to prodction", want: replyOf("/promote wbe to prodction", "/promote web to production", "There is no app `wbe`. Did you mean `/promote web to production`?"+hint)},
		{name: "app right, environment misspelt", body: "/promote web to stagign", want: replyOf("/promote web to stagign", "/promote web to staging", "There is no environment `stagign`. Did you mean `/promote web to staging`?"+hint)},
		{name: "unknown app", body: "/promote database", want: replyOf("/promote database", "", "There is no app `database`. Apps: `my-api-service`, `web`, `worker`."+hint)},
		{name: "environment where an app goes", body: "/promote production", want: replyOf("/promote production", "/promote to production", "Did you mean `/promote to production`?"+hint)},
		{name: "misspelt environment where an app goes", body: "/promote prodution", want: replyOf("/promote prodution", "/promote to production", "Did you mean `/promote to production`?"+hint)},
		{name: "missing to", body: "/promote web production", want: replyOf("/promote web production", "/promote web to production", "Did you mean `/promote web to production`?"+hint)},
		{name: "misspelt to", body: "/promote web ot production", want: replyOf("/promote web ot production", "/promote web to production", "Did you mean `/promote web to production`?"+hint)},
		{name: "misspelt help", body: "/promote hlep", want: replyOf("/promote hlep", "/promote help", "Did you mean `/promote help`?"+hint)},
		{name: "to without environment", body: "/promote to", want: Result{Kind: KindReply, Line: "/promote to", Reply: "> /promote to\n\nName one environment after `to`. Environments: `staging`, `production`." + usageTail}},
		{name: "too many words", body: "/promote web to production right now", want: Result{Kind: KindReply, Line: "/promote web to production right now", Reply: "> /promote web to production right now\n\nI did not understand `/promote web to production right now`." + usageTail}},

		// Replies quote the line escaped and put names in code spans, so that
		// a typed line cannot change the reply's structure.
		{name: "hostile unknown app", body: "/promote `x`<!--", want: replyOf("/promote `x`<!--", "", "There is no app ``x`<!--``. Apps: `my-api-service`, `web`, `worker`."+hint).quoted("> /promote \\`x\\`\\<\\!--")},
		{name: "hostile line not understood", body: "/promote @octocat #1 **x** [y](z)", want: Result{Kind: KindReply, Line: "/promote @octocat #1 **x** [y](z)",
			Reply: "> /promote @\u200boctocat \\#\u200b1 \\*\\*x\\*\\* \\[y\\](z)\n\nI did not understand `/promote @octocat #1 **x** [y](z)`." + usageTail}},

		// Without known lists, names are taken as typed.
		{name: "unknown lists accept any app", body: "/promote anything to somewhere", known: &Known{}, want: promote("anything", "somewhere", "/promote anything to somewhere")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := known
			if tt.known != nil {
				k = *tt.known
			}
			got := Parse(tt.body, k)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

// quoted replaces the quote a replyOf starts with, for lines that are
// escaped in it.
func (r Result) quoted(q string) Result {
	_, rest, _ := strings.Cut(r.Reply, "\n\n")
	r.Reply = q + "\n\n" + rest
	return r
}

func TestIsBot(t *testing.T) {
	tests := []struct {
		name, login, userType string
		want                  bool
	}{
		{name: "ourselves", login: "promobot[bot]", userType: "Bot", want: true},
		{name: "our slug without type", login: "Promobot", userType: "User", want: true},
		{name: "another app", login: "dependabot[bot]", userType: "Bot", want: true},
		{name: "bot type only", login: "renovate", userType: "Bot", want: true},
		{name: "human", login: "alice", userType: "User", want: false},
		{name: "human named like a bot prefix", login: "promobot-fan", userType: "User", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsBot(tt.login, tt.userType, "promobot"); got != tt.want {
				t.Errorf("IsBot(%q, %q) = %v, want %v", tt.login, tt.userType, got, tt.want)
			}
		})
	}
}

func TestHelpText(t *testing.T) {
	staging := gitops.App{Name: "my-api-service-staging", Environment: "staging", Path: "kustomize/overlays/staging"}
	production := gitops.App{Name: "my-api-service-production", Environment: "production", Path: "kustomize/overlays/production"}
	cfg, err := gitops.ParseConfig([]byte(`pipeline:
- from: staging
  to: production
  autoPromote: true
  gates:
    soak: 30m
    freeze:
    - {cron: "0 18 * * fri", duration: 62h, timezone: Europe/Berlin, reason: weekend}
promoters:
  users: [{login: release-captain, id: 1234567}]
  teams: [acme/release-managers]
`))
	if err != nil {
		t.Fatal(err)
	}
	configured, err := cfg.Pipeline([]gitops.App{staging, production})
	if err != nil {
		t.Fatal(err)
	}
	derived, err := (*gitops.Config)(nil).Pipeline([]gitops.App{staging, production})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		steps  []gitops.Step
		who    gitops.Promoters
		golden string
	}{
		{name: "configured", steps: configured, who: cfg.Promoters, golden: "help-configured.md"},
		{name: "derived", steps: derived, golden: "help-derived.md"},
		{name: "no pipeline", steps: nil, golden: "help-empty.md"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HelpText(tt.steps, tt.who)
			kit.Golden(t, filepath.Join("testdata", tt.golden), got)
		})
	}
}
