package survey

import (
	"context"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Home is a commands.HomeSurvey: the open survey of a platform (its most
// recent one) with its 0–10 answer buttons, or nil when none is open.
func (c *Commands) Home(ctx context.Context, _ platform.Actor, platformName string) (*commands.HomeItem, error) {
	sv, err := c.svc.store.OpenFor(ctx, platformName, "")
	if platform.ErrorCode(err) == platform.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &commands.HomeItem{
		Title:   Question + " (survey " + sv.Ref() + ")",
		Text:    "0 = not at all likely, 10 = extremely likely. Closes " + FormatTime(sv.ClosesAt, c.svc.loc) + "; you can change your answer until then.",
		Actions: scoreActions(),
	}, nil
}
