// Package command reads promobot's /promote commands out of pull request
// comments. Parsing is pure: a comment body goes in, and a Result comes out
// that says to run a command, to reply (a typo, an unknown app), or to do
// nothing. The promoter parses a comment once, knowing no names (Known{}),
// and Resolve checks the command's app and environment once the
// repository's names are known. Nothing here talks to GitHub.
package command

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
)

// Verb is what a command asks for.
type Verb string

// Verbs.
const (
	// VerbPromote promotes images to the next (or named) environment.
	VerbPromote Verb = "promote"
	// VerbHelp asks for the help text.
	VerbHelp Verb = "help"
	// VerbFreeze stops applies and promotions into an environment (or
	// every environment) until VerbUnfreeze.
	VerbFreeze Verb = "freeze"
	// VerbUnfreeze lifts a freeze.
	VerbUnfreeze Verb = "unfreeze"
	// VerbRollback restores an app's environment to what it ran before.
	VerbRollback Verb = "rollback"
	// VerbDiff renders the pull request's sticky diff comment again.
	VerbDiff Verb = "diff"
	// VerbSync applies the repository's apps (or one) again now.
	VerbSync Verb = "sync"
)

// Kind says what to do with a Result.
type Kind int

// Result kinds.
const (
	// KindIgnore: the comment holds no command for promobot.
	KindIgnore Kind = iota
	// KindCommand: run Result.Command.
	KindCommand
	// KindReply: post Result.Reply; nothing else happens.
	KindReply
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindCommand:
		return "command"
	case KindReply:
		return "reply"
	default:
		return "ignore"
	}
}

// Command is a parsed /promote command.
type Command struct {
	Verb Verb
	// App is the app named, in the spelling of Known.Apps; "" for all the
	// apps the pull request changed.
	App string
	// Env is the target environment named, in the spelling of
	// Known.Environments; "" for the next environment of the pipeline.
	Env string
	// Reason is what a /freeze says after its environment, as written.
	Reason string
	// Point is what a /rollback goes back to: "previous", a commit SHA
	// or a pull request ("#12").
	Point string
	// Force asks a /rollback to go ahead into a frozen environment
	// (admins only).
	Force bool
	// Line is the comment line the command came from, trimmed.
	Line string
}

// String renders the command as a user would type it.
func (c Command) String() string {
	switch c.Verb {
	case VerbHelp:
		return "/promote help"
	case VerbFreeze, VerbUnfreeze:
		if c.Env == "" {
			return "/" + string(c.Verb)
		}
		return "/" + string(c.Verb) + " " + c.Env
	case VerbDiff:
		return "/diff"
	case VerbSync:
		return strings.TrimSpace("/sync " + c.App)
	case VerbRollback:
		s := "/rollback " + c.App + " to " + c.Point
		if c.Force {
			s += " --force"
		}
		return s
	}
	s := "/promote"
	if c.App != "" {
		s += " " + c.App
	}
	if c.Env != "" {
		s += " to " + c.Env
	}
	return s
}

// Result is the outcome of parsing a comment.
type Result struct {
	Kind Kind
	// Command is set for KindCommand.
	Command Command
	// Reply is the complete Markdown reply for KindReply: the offending
	// line quoted, then what was wrong.
	Reply string
	// Suggestion is the corrected command a reply offers ("/promote to
	// production"), or "" when there is none.
	Suggestion string
	// Line is the comment line the result came from, trimmed; "" for
	// KindIgnore.
	Line string
}

// Known is what commands may name. A nil Apps (or Environments) list
// accepts any app (or environment) name as typed; the caller checks it.
type Known struct {
	Apps         []string
	Environments []string
}

// Parse reads the first promobot command of a comment body.
//
// A command is a line whose first word (after at most three spaces) is
// /promote, in any letter case:
//
//	/promote                  every image the PR changed, to the next environment
//	/promote <app>            one app
//	/promote to <env>         to a named environment
//	/promote <app> to <env>
//	/promote help
//
// Lines quoted with ">", inside fenced code
// blocks (``` or ~~~), indented by four or more columns (indented code),
// inside HTML comments or <pre>, <script>, <style> and <textarea> blocks
// never fire, and /promote in the middle of a line is text, not a command. Other slash
// commands (/lgtm, /assign...) are ignored. A misspelled /promote, an
// unknown app or environment, or arguments that do not fit the forms above
// get a reply offering the closest valid command.
//
// When a comment holds several commands, the first one (command or reply)
// wins and the rest are ignored: one comment, one action.
func Parse(body string, known Known) Result {
	var fence string // the open fence ("```", "~~~~"...), or ""
	inComment := false
	rawEnd := "" // the closing tag of an open <pre>, <script>, <style> or <textarea> block
	for _, raw := range strings.Split(body, "\n") {
		line := strings.TrimRight(raw, "\r")
		indent, rest := indentation(line)
		if fence != "" {
			if indent < 4 && isClosingFence(rest, fence) {
				fence = ""
			}
			continue
		}
		if inComment {
			if strings.Contains(line, "-->") {
				inComment = false
			}
			continue
		}
		if rawEnd != "" {
			if strings.Contains(strings.ToLower(line), rawEnd) {
				rawEnd = ""
			}
			continue
		}
		if indent >= 4 {
			continue
		}
		if f := openingFence(rest); f != "" {
			fence = f
			continue
		}
		if strings.HasPrefix(rest, "<!--") {
			inComment = !strings.Contains(rest[4:], "-->")
			continue
		}
		if end := rawBlockEnd(rest); end != "" {
			if !strings.Contains(strings.ToLower(rest), end) {
				rawEnd = end
			}
			continue
		}
		if strings.HasPrefix(rest, "/") {
			if r, ok := parseLine(strings.TrimSpace(rest), known); ok {
				return r
			}
		}
		if i := strings.LastIndex(line, "<!--"); i >= 0 && !strings.Contains(line[i+4:], "-->") {
			// An HTML comment opened in the middle of a line hides the
			// lines after it until it closes.
			inComment = true
		}
	}
	return Result{Kind: KindIgnore}
}

// rawBlockEnd returns the closing tag of a raw HTML block (<pre>, <script>,
// <style>, <textarea>) that s opens, or "": what is inside is shown as it
// is, or not at all, like code.
func rawBlockEnd(s string) string {
	l := strings.ToLower(s)
	for _, tag := range []string{"pre", "script", "style", "textarea"} {
		if !strings.HasPrefix(l, "<"+tag) {
			continue
		}
		if rest := l[len(tag)+1:]; rest == "" || rest[0] == '>' || rest[0] == ' ' || rest[0] == '\t' {
			return "</" + tag + ">"
		}
	}
	return ""
}

// indentation returns the line's leading whitespace width in columns (tabs
// to the next multiple of four) and the rest of the line.
func indentation(line string) (int, string) {
	col := 0
	for i, r := range line {
		switch r {
		case ' ':
			col++
		case '\t':
			col += 4 - col%4
		default:
			return col, line[i:]
		}
	}
	return col, ""
}

func openingFence(s string) string {
	for _, c := range []byte{'`', '~'} {
		n := 0
		for n < len(s) && s[n] == c {
			n++
		}
		if n >= 3 {
			if c == '`' && strings.Contains(s[n:], "`") {
				return "" // inline code like ```x```, not a fence
			}
			return s[:n]
		}
	}
	return ""
}

func isClosingFence(s, fence string) bool {
	n := 0
	for n < len(s) && s[n] == fence[0] {
		n++
	}
	return n >= len(fence) && strings.TrimSpace(s[n:]) == ""
}

const (
	promoteWord = "promote"
	helpHint    = "Comment `/promote help` to see what promobot understands."
)

// parseLine handles one line that starts with "/". ok is false for slash
// commands that are not promobot's.
func parseLine(line string, known Known) (Result, bool) {
	fields := strings.Fields(line)
	verb := strings.ToLower(strings.TrimRight(fields[0][1:], ".,!:;"))
	args := make([]string, 0, len(fields)-1)
	for _, f := range fields[1:] {
		if a := cleanArg(f); a != "" {
			args = append(args, a)
		}
	}
	switch verb {
	case string(VerbFreeze), string(VerbUnfreeze):
		return parseFreeze(line, Verb(verb), args, known), true
	case string(VerbRollback):
		return parseRollback(line, fields[1:], known), true
	case string(VerbSync):
		switch {
		case len(args) > 1:
			return Result{Kind: KindReply, Line: line, Reply: quote(line) + "\n\n`/sync` takes at most one app: `/sync` or `/sync <app>`."}, true
		case len(args) == 1 && known.Apps != nil:
			return resolveSync(Command{Verb: VerbSync, App: args[0], Line: line}, known), true
		case len(args) == 1:
			return commandResult(line, Command{Verb: VerbSync, App: args[0]}), true
		}
		return commandResult(line, Command{Verb: VerbSync}), true
	case string(VerbDiff):
		if len(args) > 0 {
			return Result{Kind: KindReply, Line: line, Reply: quote(line) + "\n\n`/diff` takes no arguments: it renders this pull request's diff comment again."}, true
		}
		return commandResult(line, Command{Verb: VerbDiff}), true
	}
	for _, w := range []Verb{VerbUnfreeze, VerbFreeze, VerbRollback} {
		if verb != promoteWord && closeEnough(verb, string(w)) && !closeEnough(verb, promoteWord) {
			s := strings.TrimSpace("/" + string(w) + " " + strings.Join(args, " "))
			return reply(line, s, fmt.Sprintf("Did you mean %s?", markdown.Code(s))), true
		}
	}
	if verb != promoteWord {
		if !closeEnough(verb, promoteWord) {
			return Result{}, false
		}
		// A misspelt verb: offer the command the arguments would make.
		r := parseArgs(line, args, known)
		suggestion := "/promote"
		switch {
		case r.Kind == KindCommand:
			suggestion = r.Command.String()
		case r.Suggestion != "":
			suggestion = r.Suggestion
		case len(args) > 0:
			suggestion = "/promote " + strings.Join(args, " ")
		}
		return reply(line, suggestion, fmt.Sprintf("Did you mean %s?", markdown.Code(suggestion))), true
	}
	return parseArgs(line, args, known), true
}

func cleanArg(s string) string {
	s = strings.Trim(s, "`'\"*_")
	if s == "?" {
		return s
	}
	return strings.TrimRight(s, ".,!;:?")
}

func reply(line, suggestion, msg string) Result {
	return Result{Kind: KindReply, Line: line, Suggestion: suggestion, Reply: quote(line) + "\n\n" + msg + " " + helpHint}
}

// quote quotes the line a reply answers, escaped: it reads as the
// commenter typed it and cannot change the reply's structure.
func quote(line string) string {
	return "> " + markdown.Text(line)
}

func isHelp(s string) bool {
	switch strings.ToLower(s) {
	case "help", "-h", "--help", "?":
		return true
	}
	return false
}

// parseArgs interprets the words after /promote.
func parseArgs(line string, args []string, known Known) Result {
	run := func(c Command) Result { return commandResult(line, c) }
	usage := func(what string) Result {
		return Result{Kind: KindReply, Line: line, Reply: quote(line) + "\n\n" + what + " promobot understands `/promote`, `/promote <app>`, `/promote to <env>`, `/promote <app> to <env>` and `/promote help`."}
	}
	is := func(i int, word string) bool { return i < len(args) && strings.EqualFold(args[i], word) }

	switch {
	case len(args) == 0:
		return run(Command{Verb: VerbPromote})
	case isHelp(args[0]):
		if len(args) == 1 {
			return run(Command{Verb: VerbHelp})
		}
		return usage("`/promote help` takes no arguments.")
	case closeEnough(strings.ToLower(args[0]), "help") && len(args) == 1 && !isKnown(args[0], known.Apps):
		return reply(line, "/promote help", "Did you mean `/promote help`?")
	case is(0, "to") && len(args) == 2:
		return promoteTo(line, args[1], known)
	case is(0, "to"):
		return usage("Name one environment after `to`" + envList(known) + ".")
	case len(args) == 1:
		return promoteApp(line, args[0], known)
	case len(args) == 3 && is(1, "to"):
		return promoteAppTo(line, args[0], args[2], known)
	case len(args) == 2 && (closeEnough(strings.ToLower(args[1]), "to") || isKnown(args[1], known.Environments)):
		// "/promote api production": the "to" is missing.
		s := fmt.Sprintf("/promote %s to %s", args[0], args[1])
		return reply(line, s, fmt.Sprintf("Did you mean %s?", markdown.Code(s)))
	case len(args) == 3 && closeEnough(strings.ToLower(args[1]), "to"):
		s := fmt.Sprintf("/promote %s to %s", args[0], args[2])
		return reply(line, s, fmt.Sprintf("Did you mean %s?", markdown.Code(s)))
	}
	return usage("I did not understand " + markdown.Code(line) + ".")
}

// Resolve checks the names of c, a command that Parse returned with no
// names known (Known{}), against known. It returns what Parse returns for
// the same comment with known: the command in known's spelling, or the
// reply to an unknown or misspelled app or environment. So a comment is
// parsed once, before promobot knows the repository's names, and its
// command is checked once it does.
func Resolve(c Command, known Known) Result {
	switch {
	case c.Verb == VerbFreeze || c.Verb == VerbUnfreeze:
		return resolveFreeze(c, known)
	case c.Verb == VerbRollback:
		return resolveRollback(c, known)
	case c.Verb == VerbSync:
		return resolveSync(c, known)
	case c.Verb == VerbHelp || (c.App == "" && c.Env == ""):
		return Result{Kind: KindCommand, Command: c, Line: c.Line}
	case c.App == "":
		return promoteTo(c.Line, c.Env, known)
	case c.Env == "":
		return promoteApp(c.Line, c.App, known)
	}
	return promoteAppTo(c.Line, c.App, c.Env, known)
}

// commandResult is the Result that runs c, read from line.
func commandResult(line string, c Command) Result {
	c.Line = line
	return Result{Kind: KindCommand, Command: c, Line: line}
}

// promoteTo reads "/promote to <env>".
func promoteTo(line, env string, known Known) Result {
	env, r, ok := resolveEnv(line, "", env, known)
	if !ok {
		return r
	}
	return commandResult(line, Command{Verb: VerbPromote, Env: env})
}

// promoteApp reads "/promote <app>".
func promoteApp(line, arg string, known Known) Result {
	app, r, ok := resolveApp(line, arg, "", known)
	if ok {
		return commandResult(line, Command{Verb: VerbPromote, App: app})
	}
	// "/promote production" most likely means "/promote to production".
	if env, ok := lookup(arg, known.Environments); ok && known.Environments != nil {
		s := "/promote to " + env
		return reply(line, s, fmt.Sprintf("Did you mean %s?", markdown.Code(s)))
	}
	if r.Suggestion == "" && known.Environments != nil {
		if env := suggest(arg, known.Environments); env != "" {
			s := "/promote to " + env
			return reply(line, s, fmt.Sprintf("Did you mean %s?", markdown.Code(s)))
		}
	}
	return r
}

// promoteAppTo reads "/promote <app> to <env>".
func promoteAppTo(line, app, env string, known Known) Result {
	app, r, ok := resolveApp(line, app, env, known)
	if !ok {
		return r
	}
	env, r, ok = resolveEnv(line, app, env, known)
	if !ok {
		return r
	}
	return commandResult(line, Command{Verb: VerbPromote, App: app, Env: env})
}

// isKnown reports whether s is in a list that is known (not nil).
func isKnown(s string, list []string) bool {
	_, ok := lookup(s, list)
	return ok && list != nil
}

// lookup finds s in list regardless of case. A nil list accepts anything.
func lookup(s string, list []string) (string, bool) {
	if list == nil {
		return s, true
	}
	for _, c := range list {
		if strings.EqualFold(c, s) {
			return c, true
		}
	}
	return "", false
}

// resolveApp checks an app name; env is the environment typed after it, kept
// in the suggested command.
func resolveApp(line, app, env string, known Known) (string, Result, bool) {
	if a, ok := lookup(app, known.Apps); ok {
		return a, Result{}, true
	}
	tail := ""
	if env != "" {
		if e, ok := lookup(env, known.Environments); ok {
			env = e
		} else if e := suggest(env, known.Environments); e != "" {
			env = e
		}
		tail = " to " + env
	}
	if s := suggest(app, known.Apps); s != "" {
		cmd := "/promote " + s + tail
		return "", reply(line, cmd, fmt.Sprintf("There is no app %s. Did you mean %s?", markdown.Code(app), markdown.Code(cmd))), false
	}
	return "", reply(line, "", fmt.Sprintf("There is no app %s%s.", markdown.Code(app), list("Apps", known.Apps))), false
}

func resolveEnv(line, app, env string, known Known) (string, Result, bool) {
	if e, ok := lookup(env, known.Environments); ok {
		return e, Result{}, true
	}
	prefix := "/promote "
	if app != "" {
		prefix += app + " "
	}
	if s := suggest(env, known.Environments); s != "" {
		cmd := prefix + "to " + s
		return "", reply(line, cmd, fmt.Sprintf("There is no environment %s. Did you mean %s?", markdown.Code(env), markdown.Code(cmd))), false
	}
	return "", reply(line, "", fmt.Sprintf("There is no environment %s%s.", markdown.Code(env), envList(known))), false
}

func envList(known Known) string {
	return list("Environments", known.Environments)
}

// list renders ": Apps: `a`, `b`" for a reply, or "" for an empty list.
func list(title string, items []string) string {
	if len(items) == 0 {
		return ""
	}
	const max = 15
	var b strings.Builder
	b.WriteString(". " + title + ": ")
	for i, it := range items {
		if i == max {
			fmt.Fprintf(&b, " and %d more", len(items)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(markdown.Code(it))
	}
	return b.String()
}

// suggest returns the candidate a typo most likely meant: the nearest by
// edit distance when it is near enough, else the only candidate with the
// same environment rank ("prod" → "production"), else the only candidate
// containing s.
func suggest(s string, candidates []string) string {
	ls := strings.ToLower(s)
	best, bestD, tie := "", -1, false
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		switch {
		case bestD < 0 || d < bestD:
			best, bestD, tie = c, d, false
		case d == bestD:
			tie = true
		}
	}
	if best != "" && !tie && bestD <= threshold(best) && bestD < len([]rune(best)) {
		return best
	}
	if r, ok := gitops.EnvironmentRank(ls); ok {
		if m := only(candidates, func(c string) bool { rc, ok := gitops.EnvironmentRank(c); return ok && rc == r }); m != "" {
			return m
		}
	}
	if len(ls) >= 3 {
		return only(candidates, func(c string) bool { return strings.Contains(strings.ToLower(c), ls) })
	}
	return ""
}

func only(candidates []string, f func(string) bool) string {
	found := ""
	for _, c := range candidates {
		if f(c) {
			if found != "" {
				return ""
			}
			found = c
		}
	}
	return found
}

// threshold is how many edits still count as a typo of word.
func threshold(word string) int {
	switch n := len([]rune(word)); {
	case n <= 1:
		return 0
	case n <= 4:
		return 1
	case n <= 9:
		return 2
	default:
		return 3
	}
}

func closeEnough(s, word string) bool {
	return s != word && editDistance(s, word) <= threshold(word)
}

// editDistance is the optimal string alignment (restricted
// Damerau-Levenshtein) distance: insertions, deletions, substitutions and
// transpositions of adjacent characters each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if unicode.ToLower(ra[i-1]) == unicode.ToLower(rb[j-1]) {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// IsBot reports whether a comment's author must be ignored: promobot itself
// (self is the App's slug, e.g. "promobot"; its comments come from
// "promobot[bot]") or any other bot (user type "Bot" or a "[bot]" login).
// Ignoring every bot keeps two bots from answering each other forever.
func IsBot(login, userType, self string) bool {
	l := strings.ToLower(login)
	if strings.EqualFold(userType, "Bot") || strings.HasSuffix(l, "[bot]") {
		return true
	}
	s := strings.ToLower(self)
	return s != "" && (l == s || l == s+"[bot]")
}
