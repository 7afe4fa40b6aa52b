package readme_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's "Security model" backs each line with the tests that try to
// cross it: every test or fuzz target it names exists, and every party it
// promises to cover has its paragraph.
func TestSecurityModelNamesRealTests(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := markdownSection(string(raw), "## Security model")
	if section == "" {
		t.Fatal(`the README has no "## Security model" section`)
	}
	for _, party := range []string{"**A repository author**", "**A pull request author", "**A commenter**",
		"**Anyone who can reach the webhook**", "**A pod neighbour", "**The operator**"} {
		if !strings.Contains(section, party) {
			t.Errorf("the security model says nothing of %s", party)
		}
	}

	defined := map[string]string{}
	funcRE := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	err = filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".cache" || d.Name() == "bin" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range funcRE.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	named := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)(?:/[^`]*)?`").FindAllStringSubmatch(section, -1)
	if len(named) < 20 {
		t.Fatalf("the security model names %d tests; each of its lines should name the tests behind it", len(named))
	}
	for _, m := range named {
		if _, ok := defined[m[1]]; !ok {
			t.Errorf("the security model names %s, but no test file defines it", m[1])
		}
	}
}

// markdownSection returns the text under heading up to the next heading of
// the same or a higher level.
func markdownSection(src, heading string) string {
	level := strings.Count(strings.Fields(heading)[0], "#")
	_, rest, ok := strings.Cut(src, "\n"+heading+"\n")
	if !ok {
		return ""
	}
	var b strings.Builder
	for _, line := range strings.Split(rest, "\n") {
		if h := strings.Fields(line); len(h) > 0 && strings.Trim(h[0], "#") == "" && len(h[0]) <= level {
			break
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}
