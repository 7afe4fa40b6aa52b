package command

import (
	"fmt"
	"strings"

	"github.com/promobot/promobot/internal/markdown"
)

// rollbackUsage is what a /rollback that cannot be read is answered with.
const rollbackUsage = "promobot understands `/rollback <app>`, `/rollback <app> to previous`, `/rollback <app> to <commit>` and `/rollback <app> to #<pull request>`, with `--force` (admins) to roll back into a frozen environment."

// parseRollback reads "/rollback <app> [to <previous | sha | #pr>]
// [--force]". The point defaults to previous.
func parseRollback(line string, fields []string, known Known) Result {
	c := Command{Verb: VerbRollback, Point: "previous", Line: line}
	var args []string
	for _, f := range fields {
		if strings.EqualFold(f, "--force") {
			c.Force = true
			continue
		}
		if a := cleanArg(f); a != "" {
			args = append(args, a)
		}
	}
	switch {
	case len(args) == 1:
	case len(args) == 3 && strings.EqualFold(args[1], "to"):
		c.Point = args[2]
	default:
		return Result{Kind: KindReply, Line: line, Reply: quote(line) + "\n\n" + rollbackUsage}
	}
	c.App = args[0]
	if !validPoint(c.Point) {
		return Result{Kind: KindReply, Line: line, Reply: quote(line) + "\n\n" + fmt.Sprintf("%s is not a point to roll back to. ", markdown.Code(c.Point)) + rollbackUsage}
	}
	if strings.EqualFold(c.Point, "previous") {
		c.Point = "previous"
	}
	if known.Apps == nil {
		return commandResult(line, c)
	}
	return resolveRollback(c, known)
}

// validPoint accepts previous, #<digits>, <digits> and a hex SHA of 7 to
// 40 characters.
func validPoint(p string) bool {
	if strings.EqualFold(p, "previous") {
		return true
	}
	digits := strings.TrimPrefix(p, "#")
	if digits != "" && strings.Trim(digits, "0123456789") == "" && len(digits) <= 9 {
		return true
	}
	return len(p) >= 7 && len(p) <= 40 && strings.Trim(strings.ToLower(p), "0123456789abcdef") == ""
}

// resolveRollback checks a /rollback's app against known.
func resolveRollback(c Command, known Known) Result {
	if app, ok := lookup(c.App, known.Apps); ok {
		c.App = app
		return commandResult(c.Line, c)
	}
	if s := suggest(c.App, known.Apps); s != "" {
		cmd := "/rollback " + s + " to " + c.Point
		return reply(c.Line, cmd, fmt.Sprintf("There is no app %s. Did you mean %s?", markdown.Code(c.App), markdown.Code(cmd)))
	}
	return reply(c.Line, "", fmt.Sprintf("There is no app %s%s.", markdown.Code(c.App), list("Apps", known.Apps)))
}

// resolveSync checks a /sync's app (if any) against known.
func resolveSync(c Command, known Known) Result {
	if c.App == "" {
		return commandResult(c.Line, c)
	}
	if app, ok := lookup(c.App, known.Apps); ok {
		c.App = app
		return commandResult(c.Line, c)
	}
	if s := suggest(c.App, known.Apps); s != "" {
		cmd := "/sync " + s
		return reply(c.Line, cmd, fmt.Sprintf("There is no app %s. Did you mean %s?", markdown.Code(c.App), markdown.Code(cmd)))
	}
	return reply(c.Line, "", fmt.Sprintf("There is no app %s%s.", markdown.Code(c.App), list("Apps", known.Apps)))
}
