package commands

import (
	"context"
	"fmt"

	"github.com/idpbot/idpbot/internal/platform"
)

// credentials explains how connection details are handed over, or, with
// --rotate, issues new ones and revokes the old.
func (r *Router) credentials(ctx context.Context, req Request, a args) Reply {
	ref, err := oneResource("credentials", a)
	if err != nil {
		return r.fail(ctx, err)
	}
	if !a.has("rotate") {
		res, err := r.engine.Find(ctx, req.Actor, ref)
		if err != nil {
			return r.fail(ctx, err)
		}
		text := fmt.Sprintf("They went to %s by direct message when it became ready, and the bot keeps no copy. ", res.Requester.Display())
		if err := r.engine.Rotatable(res); err != nil {
			text += platform.ErrorMessage(err)
		} else {
			text += fmt.Sprintf("To issue new ones and revoke the old: /idp credentials %s --rotate (its team or an admin; the new ones go to %s privately).",
				res.Ref(), res.Requester.Display())
		}
		return Reply{
			Title:     fmt.Sprintf("Credentials of %s %s are shown only once.", res.Name, res.Ref()),
			Ephemeral: true,
			Sections:  []Section{{Text: text}},
		}
	}
	res, err := r.engine.Rotate(ctx, req.Actor, ref)
	if err != nil {
		return r.fail(ctx, err)
	}
	r.log.InfoContext(ctx, "credentials rotated", "request_id", res.ID, "service", res.Service, "team", res.Team, "env", res.Environment, "actor", req.Actor.ID)
	return Reply{
		Title:     fmt.Sprintf("New credentials for %s %s are on their way to %s by direct message; the old password no longer works.", res.Name, res.Ref(), res.Requester.Display()),
		Ephemeral: true,
	}
}
