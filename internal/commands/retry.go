package commands

import (
	"context"
	"fmt"

	"github.com/idpbot/idpbot/internal/platform"
)

// retry runs again the operation that failed a resource.
func (r *Router) retry(ctx context.Context, req Request, a args) Reply {
	ref, err := oneResource("retry", a)
	if err != nil {
		return r.fail(ctx, err)
	}
	res, err := r.engine.Retry(ctx, req.Actor, ref)
	if err != nil {
		return r.fail(ctx, err)
	}
	what := map[platform.State]string{platform.Deleting: "deletion", platform.Updating: "update"}[res.State]
	if what == "" {
		what = "provisioning"
	}
	r.log.InfoContext(ctx, "retry requested", "request_id", res.ID, "service", res.Service, "team", res.Team, "env", res.Environment, "actor", req.Actor.ID, "state", res.State)
	return Reply{
		Title:    fmt.Sprintf("Retrying the %s of %s %s (%s of team %s in %s).", what, res.Name, res.Ref(), res.Service, res.Team, res.Environment),
		Sections: []Section{{Text: "Progress follows in its thread."}},
	}
}

// FailedActions are the buttons of the thread message that tells that r
// failed (event ev): Retry, which runs the failed operation again, and,
// when a deprovisioning failed, Forget, which only admins may use (the
// platforms show a button to everyone in a channel; the command refuses
// the others).
func FailedActions(r *platform.Resource, ev platform.Event) []Action {
	actions := []Action{{Label: "Retry", Command: fmt.Sprintf("retry %d", r.ID), Style: "primary"}}
	if ev.From == platform.Deleting {
		actions = append(actions, Action{Label: "Forget (admins)", Command: fmt.Sprintf("forget %d", r.ID), Style: "danger",
			Input: "Reason: why it cannot be deprovisioned"})
	}
	return actions
}
