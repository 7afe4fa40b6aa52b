package promoter

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"

	"github.com/promobot/promobot/internal/checkout"
	"github.com/promobot/promobot/internal/diff"
	"github.com/promobot/promobot/internal/github"
	"github.com/promobot/promobot/internal/gitops"
	"github.com/promobot/promobot/internal/markdown"
)

// PullRequestCheckName is the check run promobot posts on every pull
// request head (and merge group): a branch rule can require it.
const PullRequestCheckName = "promobot"

// pullRequestCheck is the completed check run of a change rendered as c:
// it fails when an app of the change fails to render (a broken overlay, a
// sandbox or project refusal) or when the change's .promobot.yaml is
// invalid, with an annotation on each file at fault; its summary is the
// rendered diff's, with a link to the sticky comment (commentURL, when
// one was posted).
func pullRequestCheck(sha string, c diff.Comment, configErr error, commentURL string) github.CheckRun {
	run := github.CheckRun{Name: PullRequestCheckName, HeadSHA: sha, Status: "completed", Conclusion: "success"}
	for _, f := range c.Failures {
		run.Annotations = append(run.Annotations, github.Annotation{Path: f.File, Level: "failure",
			Title: fmt.Sprintf("%s does not render", f.App), Message: markdown.Clip(f.Message, 60000)})
	}
	if configErr != nil {
		line := 1
		if m := yamlLine.FindStringSubmatch(configErr.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		run.Annotations = append(run.Annotations, github.Annotation{Path: gitops.ConfigFile, StartLine: line, EndLine: line, Level: "failure",
			Title: gitops.ConfigFile + " is invalid", Message: markdown.Clip(configErr.Error(), 60000)})
	}
	changed := map[string]bool{}
	for _, ch := range c.Changes {
		changed[ch.App] = true
	}
	switch {
	case len(c.Failures) > 0 || configErr != nil:
		run.Conclusion = "failure"
		var what []string
		if n := len(c.Failures); n > 0 {
			what = append(what, fmt.Sprintf("%d %s fail to render", n, pluralWord(n, "app")))
		}
		if configErr != nil {
			what = append(what, gitops.ConfigFile+" is invalid")
		}
		run.Title = strings.Join(what, "; ")
	case len(c.Changes) > 0:
		run.Title = fmt.Sprintf("%d %s changed in %d %s", len(c.Changes), pluralWord(len(c.Changes), "resource"), len(changed), pluralWord(len(changed), "app"))
	default:
		run.Title = "No app renders differently"
	}
	run.Summary = run.Title + "."
	if commentURL != "" {
		run.Summary += fmt.Sprintf(" The rendered diff is in [promobot's comment](%s).", commentURL)
	}
	return run
}

// yamlLine finds the line a YAML error names.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// headConfigError returns why the .promobot.yaml of the checkout at root
// is invalid (nil when it is valid or absent).
func headConfigError(root string) error {
	repo, err := checkout.Open(root)
	if err != nil {
		return err
	}
	defer repo.Close()
	raw, err := repo.ReadFile(gitops.ConfigFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	_, err = gitops.ParseConfig(raw)
	return err
}

func pluralWord(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
