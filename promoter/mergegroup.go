package promoter

import (
	"context"
	"fmt"
	"strings"

	"github.com/promobot/promobot/events"
	"github.com/promobot/promobot/internal/ghevent"
)

// mergeGroupPayload is what the promoter reads of a merge_group delivery:
// GitHub's merge queue asks for the checks of a merge group's commit.
type mergeGroupPayload struct {
	Action     string `json:"action"`
	MergeGroup struct {
		HeadSHA string `json:"head_sha"`
		HeadRef string `json:"head_ref"`
		BaseSHA string `json:"base_sha"`
		BaseRef string `json:"base_ref"`
	} `json:"merge_group"`
	Repository   repoPayload `json:"repository"`
	Installation struct {
		ID int64 `json:"id"`
	} `json:"installation"`
}

// handleMergeGroup answers the merge queue's checks_requested: the merge
// group's commit is rendered against its base as a pull request is, and
// gets the same promobot check run (no comment: a merge group has no
// conversation). It returns the commit checked.
func (p *Promoter) handleMergeGroup(ctx context.Context, d events.Delivery) (string, error) {
	mg, err := ghevent.DecodePayload[mergeGroupPayload](d)
	if err != nil {
		return "", err
	}
	g := mg.MergeGroup
	if mg.Action != "checks_requested" || g.HeadSHA == "" || g.BaseSHA == "" {
		return "", nil
	}
	repo := mg.Repository.repo()
	if mg.Installation.ID == 0 {
		return "", events.Permanent(fmt.Errorf("merge_group %s on %s: no installation in the payload", d.Event.ID(), repo))
	}
	gh, err := p.gh.GitHub(ctx, mg.Installation.ID)
	if err != nil {
		return "", fmt.Errorf("%s: %w", repo, err)
	}
	ch := change{base: g.BaseSHA, head: g.HeadSHA, baseRef: strings.TrimPrefix(g.BaseRef, "refs/heads/"), what: "this merge group",
		info: mg.Repository.info(), defaultBranch: mg.Repository.DefaultBranch}
	c, _, configErr, err := p.renderChange(ctx, gh, repo, ch)
	if err != nil || c == nil {
		return "", err
	}
	if _, err := gh.CreateCheckRun(ctx, repo, pullRequestCheck(g.HeadSHA, *c, configErr, "")); err != nil {
		return "", err
	}
	return g.HeadSHA, nil
}
