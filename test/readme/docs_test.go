package readme_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promobot/promobot/internal/gitops"
)

// helpTree is what `promobot … --help` says, per command path ("" is the
// root, "events tail" a nested command).
type helpTree struct {
	flags map[string]map[string]bool
	text  strings.Builder
}

var (
	flagLineRE = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)`)
	envRE      = regexp.MustCompile(`^\$PROMOBOT_[A-Z_]+$`)
)

// readHelp runs the built binary's --help for every command.
func readHelp(t *testing.T) *helpTree {
	t.Helper()
	h := &helpTree{flags: map[string]map[string]bool{}}
	var walk func(path []string)
	walk = func(path []string) {
		cmd := strings.Join(append(append([]string{"bin/promobot"}, path...), "--help"), " ")
		out, stderr, err := runCommand(context.Background(), repoRoot, userEnv(tempDir(t)), cmd)
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, stderr)
		}
		h.text.WriteString(out)
		flags := map[string]bool{}
		var subs []string
		section := ""
		for _, line := range strings.Split(out, "\n") {
			if line != "" && !strings.HasPrefix(line, " ") {
				section = line
				continue
			}
			switch {
			case section == "Available Commands:" && strings.TrimSpace(line) != "":
				if name := strings.Fields(line)[0]; name != "help" && name != "completion" {
					subs = append(subs, name)
				}
			case strings.HasSuffix(section, "Flags:"):
				if m := flagLineRE.FindStringSubmatch(line); m != nil {
					flags[m[1]] = true
				}
			}
		}
		h.flags[strings.Join(path, " ")] = flags
		for _, s := range subs {
			walk(append(slices.Clone(path), s))
		}
	}
	walk(nil)
	return h
}

// TestREADMEMatchesHelp: every `promobot <subcommand>` and --flag the
// README mentions (commands and inline code) exists in the binary's --help,
// and every subcommand of the binary is mentioned.
func TestREADMEMatchesHelp(t *testing.T) {
	build(t)
	h := readHelp(t)
	var problems []string
	mentioned := map[string]bool{}
	anyFlag := map[string]bool{}
	for _, fl := range h.flags {
		for f := range fl {
			anyFlag[f] = true
		}
	}
	refs := append(slices.Clone(readme.commands), readme.spans...)
	checked := 0
	for _, ref := range refs {
		toks := strings.Fields(ref)
		switch {
		case toks[0] == "promobot" || toks[0] == "bin/promobot":
			checked++
			var path []string
			i := 1
			for ; i < len(toks) && !strings.HasPrefix(toks[i], "-"); i++ {
				cand := append(slices.Clone(path), toks[i])
				if h.flags[strings.Join(cand, " ")] == nil {
					break
				}
				path = cand
			}
			if len(path) == 0 && i < len(toks) && !strings.HasPrefix(toks[i], "-") {
				problems = append(problems, fmt.Sprintf("`%s`: promobot has no subcommand %q", ref, toks[i]))
				continue
			}
			name := strings.Join(path, " ")
			mentioned[name] = true
			for _, tok := range toks[i:] {
				if f, ok := strings.CutPrefix(tok, "--"); ok {
					f, _, _ = strings.Cut(f, "=")
					if !h.flags[name][f] {
						problems = append(problems, fmt.Sprintf("`%s`: promobot %s has no flag --%s", ref, name, f))
					}
				}
			}
		case strings.HasPrefix(toks[0], "--"):
			checked++
			f, _, _ := strings.Cut(strings.TrimPrefix(toks[0], "--"), "=")
			if !anyFlag[f] {
				problems = append(problems, fmt.Sprintf("`%s`: no promobot command has a flag --%s", ref, f))
			}
		case envRE.MatchString(ref):
			checked++
			if !strings.Contains(h.text.String(), ref) {
				problems = append(problems, fmt.Sprintf("`%s`: no promobot --help mentions it", ref))
			}
		}
	}
	for name := range h.flags {
		if name != "" && !mentioned[name] && !hasMentionedChild(name, mentioned) {
			problems = append(problems, fmt.Sprintf("promobot %s is not in the README", name))
		}
	}
	slices.Sort(problems)
	if len(problems) > 0 {
		t.Errorf("the README and the binary's --help disagree:\n  %s", strings.Join(problems, "\n  "))
	}
	t.Logf("checked %d mentions of promobot commands, flags and variables; commands mentioned: %v", checked, slices.Sorted(maps.Keys(mentioned)))
	if checked < 20 {
		t.Errorf("only %d mentions of promobot commands, flags and variables found in the README; the parser lost some", checked)
	}
}

// hasMentionedChild reports whether a subcommand of name is mentioned
// ("events" is documented by "events tail").
func hasMentionedChild(name string, mentioned map[string]bool) bool {
	for m := range mentioned {
		if strings.HasPrefix(m, name+" ") {
			return true
		}
	}
	return false
}

// TestREADMEConfigExample: the README's .promobot.yaml example is a valid
// configuration, and an unknown field in it is refused naming its line, as
// the README says.
func TestREADMEConfigExample(t *testing.T) {
	var example string
	for _, b := range readme.blocks["yaml"] {
		if strings.HasPrefix(b, "# .promobot.yaml") {
			example = b
		}
	}
	if example == "" {
		t.Fatal("the README has no ```yaml block starting with \"# .promobot.yaml\"")
	}
	cfg, err := gitops.ParseConfig([]byte(example))
	if err != nil {
		t.Fatalf("the README's .promobot.yaml example: %v", err)
	}
	var got []string
	for _, p := range cfg.Steps {
		got = append(got, fmt.Sprintf("%s→%s soak=%s freezes=%d", p.From, p.To, p.Gates.Soak, len(p.Gates.Freeze)))
	}
	if diff := cmp.Diff([]string{"staging→production soak=30m freezes=2"}, got); diff != "" {
		t.Errorf("the example's pipeline (-want +got):\n%s", diff)
	}

	lines := strings.Count(example, "\n")
	_, err = gitops.ParseConfig([]byte(example + "drftInterval: 5m\n"))
	if err == nil || !strings.Contains(err.Error(), "drftInterval") || !strings.Contains(err.Error(), fmt.Sprintf("line %d", lines+1)) {
		t.Errorf("an unknown field on line %d: error %v, want one naming the field and its line", lines+1, err)
	}
}
