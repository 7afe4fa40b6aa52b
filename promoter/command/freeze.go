package command

import (
	"fmt"
	"strings"

	"github.com/promobot/promobot/internal/markdown"
)

// parseFreeze reads "/freeze [env] [reason]" and "/unfreeze [env]". The
// first word is the environment when it names one (with names unknown,
// Known{}, it is taken as one and Resolve decides); the rest of the line
// is the reason, as written.
func parseFreeze(line string, verb Verb, args []string, known Known) Result {
	if len(args) == 0 {
		return commandResult(line, Command{Verb: verb})
	}
	if isHelp(args[0]) && len(args) == 1 {
		return commandResult(line, Command{Verb: VerbHelp})
	}
	c := Command{Verb: verb, Env: args[0], Line: line}
	if verb == VerbFreeze {
		c.Reason = reasonAfter(line, 2)
	}
	if known.Environments == nil {
		return commandResult(line, c)
	}
	return resolveFreeze(c, known)
}

// resolveFreeze checks a freeze command's environment: a known one is
// kept in its spelling, a close one gets "did you mean", and for /freeze
// any other word starts the reason of a freeze of every environment.
func resolveFreeze(c Command, known Known) Result {
	if c.Env == "" {
		return commandResult(c.Line, c)
	}
	if env, ok := lookup(c.Env, known.Environments); ok {
		c.Env = env
		return commandResult(c.Line, c)
	}
	if s := suggest(c.Env, known.Environments); s != "" {
		cmd := strings.TrimSpace("/" + string(c.Verb) + " " + s + " " + c.Reason)
		return reply(c.Line, cmd, fmt.Sprintf("There is no environment %s. Did you mean %s?", markdown.Code(c.Env), markdown.Code(cmd)))
	}
	if c.Verb == VerbUnfreeze {
		return reply(c.Line, "", fmt.Sprintf("There is no environment %s%s.", markdown.Code(c.Env), envList(known)))
	}
	c.Env, c.Reason = "", reasonAfter(c.Line, 1)
	return commandResult(c.Line, c)
}

// reasonAfter returns line without its first n words, spaces trimmed.
func reasonAfter(line string, n int) string {
	rest := strings.TrimSpace(line)
	for range n {
		i := strings.IndexAny(rest, " \t")
		if i < 0 {
			return ""
		}
		rest = strings.TrimSpace(rest[i:])
	}
	return rest
}
