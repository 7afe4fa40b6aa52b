package readme_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// doc is what the tests read out of a Markdown file.
type doc struct {
	// commands are the commands of the ```sh blocks, in order, with
	// continuation lines (ending in a backslash) joined and runs of blanks
	// collapsed. Comment lines and blank lines are not commands.
	commands []string
	// blocks are the bodies of the fenced blocks by language ("yaml").
	blocks map[string][]string
	// spans are the inline code spans of the text outside fenced blocks,
	// in order.
	spans []string
	// prose is the text outside fenced blocks.
	prose string
}

var spanRE = regexp.MustCompile("`([^`\n]+)`")

// parseMarkdown reads the fenced blocks and inline code of a Markdown file.
func parseMarkdown(src string) doc {
	d := doc{blocks: map[string][]string{}}
	var prose strings.Builder
	lang, in := "", false
	var body, cmd strings.Builder
	for _, line := range strings.Split(src, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && strings.HasPrefix(trimmed, "```"):
			in, lang = true, strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
			body.Reset()
			cmd.Reset()
		case in && trimmed == "```":
			in = false
			d.blocks[lang] = append(d.blocks[lang], body.String())
			if c := strings.Join(strings.Fields(cmd.String()), " "); c != "" {
				d.commands = append(d.commands, c) // a last line ending in a backslash
			}
		case in:
			body.WriteString(line + "\n")
			if lang != "sh" {
				continue
			}
			if cmd.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
				continue
			}
			if l, ok := strings.CutSuffix(line, "\\"); ok {
				cmd.WriteString(l + " ")
				continue
			}
			cmd.WriteString(line)
			if c := strings.Join(strings.Fields(cmd.String()), " "); c != "" {
				d.commands = append(d.commands, c)
			}
			cmd.Reset()
		default:
			prose.WriteString(line + "\n")
			for _, m := range spanRE.FindAllStringSubmatch(line, -1) {
				d.spans = append(d.spans, m[1])
			}
		}
	}
	d.prose = prose.String()
	return d
}

func TestParseMarkdown(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want doc
	}{
		{
			name: "commands of sh blocks, continuations joined",
			src:  "Run `a --x` first.\n\n```sh\n# a comment\nmake demo\n\nbin/promobot serve \\\n    --listen :80 \\\n  --roles webhook\n```\n",
			want: doc{
				commands: []string{"make demo", "bin/promobot serve --listen :80 --roles webhook"},
				blocks:   map[string][]string{"sh": {"# a comment\nmake demo\n\nbin/promobot serve \\\n    --listen :80 \\\n  --roles webhook\n"}},
				spans:    []string{"a --x"},
				prose:    "Run `a --x` first.\n\n\n",
			},
		},
		{
			name: "other blocks are not commands and hide their backticks",
			src:  "```yaml\na: `b`\n```\n```\nplain\n```\ntext `c`\n",
			want: doc{
				blocks: map[string][]string{"yaml": {"a: `b`\n"}, "": {"plain\n"}},
				spans:  []string{"c"},
				prose:  "text `c`\n\n",
			},
		},
		{
			name: "a block ending on a continuation keeps its command",
			src:  "```sh\nmake \\\n```\n",
			want: doc{commands: []string{"make"}, blocks: map[string][]string{"sh": {"make \\\n"}}, prose: "\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseMarkdown(tt.src)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(doc{})); diff != "" {
				t.Errorf("parseMarkdown (-want +got):\n%s", diff)
			}
		})
	}
}
