package commands

import (
	"context"
	"fmt"
)

// forget removes the record of a resource that cannot be deprovisioned
// (admins). The reason is --reason's value or, from the Forget button, the
// one word after the resource.
func (r *Router) forget(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) == 0 {
		return r.fail(ctx, invalidf("Which resource? Use /idp forget <name|#id> --reason <text>."))
	}
	reason := a.flags["reason"]
	switch {
	case len(a.pos) == 2 && !a.has("reason"):
		reason = a.pos[1]
	case len(a.pos) > 1:
		return r.fail(ctx, invalidf("forget takes one resource and --reason <text>; quote a reason of several words, like --reason \"the server is gone\"."))
	}
	res, err := r.engine.Forget(ctx, req.Actor, a.pos[0], reason)
	if err != nil {
		return r.fail(ctx, err)
	}
	r.log.InfoContext(ctx, "resource forgotten", "request_id", res.ID, "service", res.Service, "team", res.Team, "env", res.Environment, "actor", req.Actor.ID)
	return Reply{
		Title:    fmt.Sprintf("Forgot %s %s: its name is free again.", res.Name, res.Ref()),
		Sections: []Section{{Text: "Its thread says what may be left behind on the target; /idp audit " + res.Ref() + " shows why it was forgotten."}},
	}
}
