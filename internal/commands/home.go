package commands

import (
	"context"
	"fmt"
	"strconv"

	"github.com/idpbot/idpbot/internal/platform"
)

// HomeLimit caps the resources and the approvals a home shows each.
const HomeLimit = 200

// Home is a person's home page, independent of any chat platform: their
// teams' resources with what they can do to each, the requests waiting for
// their approval, the catalog, and the open survey. Adapters render it
// (Slack's Home tab, Discord's /idp home).
type Home struct {
	// Actor is whose home it is.
	Actor platform.Actor
	// Resources are the active resources of the actor's teams, newest
	// first.
	Resources []HomeItem
	// Approver is true when the actor approves requests; Approvals are
	// then the requests waiting for them, oldest first.
	Approver  bool
	Approvals []HomeItem
	// Services are the catalog's services; each item's Create is its name.
	Services []HomeItem
	// Survey is the open survey with its answer buttons, if any.
	Survey *HomeItem
	// Notes say what was left out ("showing the newest 200").
	Notes []string
}

// HomeItem is one entry of a Home: a title, a line about it, and its
// buttons.
type HomeItem struct {
	Title string
	Text  string
	// Actions are buttons that run a command as the person who clicks.
	Actions []Action
	// Create is, on a catalog entry that can be requested, the service
	// its Create button opens the form of, as /idp create <service> does.
	Create string
	// Resource is the resource the item is about, if any.
	Resource *platform.Resource
}

// HomeSurvey returns the open survey a person on a platform may answer, as
// a HomeItem with its answer buttons, or nil when none is open.
type HomeSurvey func(ctx context.Context, actor platform.Actor, platformName string) (*HomeItem, error)

// Home builds the home of the person req names (req.Platform says where
// it is shown). Buttons are offered only for the verbs this router has and
// the states in which they apply; each still checks permissions when it
// runs.
func (r *Router) Home(ctx context.Context, req Request) (*Home, error) {
	org := r.engine.Org()
	h := &Home{Actor: req.Actor}
	if teams := org.TeamsOf(req.Actor); len(teams) > 0 {
		rs, err := r.engine.Store().Resources(ctx, platform.ResourceFilter{Teams: teams, States: platform.ActiveStates(), Limit: HomeLimit + 1})
		if err != nil {
			return nil, fmt.Errorf("home of %s: %w", req.Actor.ID, err)
		}
		if len(rs) > HomeLimit {
			rs = rs[:HomeLimit]
			h.Notes = append(h.Notes, fmt.Sprintf("Showing your teams' %d newest resources; /idp list --team T narrows them down.", HomeLimit))
		}
		for _, res := range rs {
			h.Resources = append(h.Resources, r.homeResource(res))
		}
	}
	if org.IsApprover(req.Actor) {
		h.Approver = true
		queue, err := r.engine.Queue(ctx, req.Actor)
		if err != nil {
			return nil, err
		}
		if len(queue) > HomeLimit {
			queue = queue[:HomeLimit]
			h.Notes = append(h.Notes, fmt.Sprintf("Showing the %d oldest requests waiting for you; /idp list --pending lists them.", HomeLimit))
		}
		now := r.now()
		for _, w := range queue {
			res := w.Resource
			title, what, asker := fmt.Sprintf("%s %s", res.Name, res.Ref()), res.Service, res.Requester
			if w.Change != nil {
				title += " (change)"
				what, asker = platform.Summary(platform.Diff(w.Change.Old, w.Change.New))+" of "+res.Service, w.Change.Actor
			}
			h.Approvals = append(h.Approvals, HomeItem{
				Title: title,
				Text: fmt.Sprintf("%s for %s in %s, requested by %s, waiting %s; %d of %d approvals",
					what, res.Team, res.Environment, asker.Display(), waitAge(now.Sub(w.Since())), len(w.Status.Approvers), w.Status.Needed),
				Actions:  ApprovalActions(res),
				Resource: res,
			})
		}
	}
	for _, svc := range r.engine.Catalog().Services() {
		item := HomeItem{Title: svc.Title, Text: svc.Description}
		if item.Title == "" {
			item.Title = svc.Name
		}
		item.Title += " (" + svc.Name + ")"
		if err := r.engine.Availability(svc); err != nil {
			item.Text += " Not available here: " + platform.ErrorMessage(err)
		} else {
			item.Create = svc.Name
		}
		h.Services = append(h.Services, item)
	}
	if r.survey != nil {
		sv, err := r.survey(ctx, req.Actor, req.Platform)
		if err != nil {
			return nil, fmt.Errorf("open survey for %s: %w", req.Actor.ID, err)
		}
		h.Survey = sv
	}
	return h, nil
}

// homeResource is a resource of a home, with the buttons its state
// allows: status always; update when ready; extend when it expires; retry
// when failed; delete when ready or failed. Update and retry appear only
// when the router has those verbs.
func (r *Router) homeResource(res *platform.Resource) HomeItem {
	id := strconv.FormatInt(res.ID, 10)
	text := fmt.Sprintf("%s · %s/%s · %s", res.Service, res.Team, res.Environment, res.State)
	if res.State == platform.Failed && res.Reason != "" {
		text += ": " + res.Reason
	}
	if !res.ExpiresAt.IsZero() {
		text += " · expires " + r.when(res.ExpiresAt)
	}
	acts := []Action{{Label: "Status", Command: "status " + id}}
	has := func(verb string) bool { _, ok := r.lookup(verb); return ok }
	if res.State == platform.Ready && has("update") {
		acts = append(acts, Action{Label: "Update", Command: "update " + id})
	}
	if res.State == platform.Ready && !res.ExpiresAt.IsZero() {
		acts = append(acts, Action{Label: "Extend " + ExtendBy, Command: "extend " + id + " " + ExtendBy})
	}
	if res.State == platform.Failed && has("retry") {
		acts = append(acts, Action{Label: "Retry", Command: "retry " + id, Style: "primary"})
	}
	if res.State == platform.Ready || res.State == platform.Failed {
		acts = append(acts, Action{Label: "Delete", Command: "delete " + id, Style: "danger"})
	}
	return HomeItem{Title: fmt.Sprintf("%s %s", res.Name, res.Ref()), Text: text, Actions: acts, Resource: res}
}

// HomeReply renders a home as one Reply, for adapters without a home
// surface of their own (Discord's /idp home, the console): a section per
// item, and the buttons of the resources, approvals, services (Create runs
// /idp create <service>) and survey.
func HomeReply(h *Home) Reply {
	rep := Reply{Title: "Your idpbot home", Ephemeral: true}
	add := func(heading string, items []HomeItem, empty string) {
		if len(items) == 0 {
			if empty != "" {
				rep.Sections = append(rep.Sections, Section{Heading: heading, Text: empty})
			}
			return
		}
		var fields []KV
		for _, it := range items {
			fields = append(fields, KV{Key: it.Title, Value: it.Text})
			rep.Actions = append(rep.Actions, labelled(it)...)
		}
		rep.Sections = append(rep.Sections, Section{Heading: heading, Fields: fields})
	}
	add("Your teams' resources", h.Resources, "None yet. Request one with a Create button or /idp create <service>.")
	if h.Approver {
		add("Waiting for your approval", h.Approvals, "Nothing waits for your approval.")
	}
	add("Catalog", h.Services, "")
	if h.Survey != nil {
		add("Survey", []HomeItem{*h.Survey}, "")
	}
	for _, n := range h.Notes {
		rep.Sections = append(rep.Sections, Section{Text: n})
	}
	return rep
}

// labelled returns an item's buttons with labels that say which item they
// belong to ("Status orders-db #12"), its Create button included.
func labelled(it HomeItem) []Action {
	var out []Action
	name := it.Title
	if it.Resource != nil {
		name = it.Resource.Ref()
	}
	for _, a := range it.Actions {
		if it.Resource != nil {
			a.Label += " " + name
		}
		out = append(out, a)
	}
	if it.Create != "" {
		out = append(out, Action{Label: "Create " + it.Create, Command: "create " + it.Create, Style: "primary"})
	}
	return out
}

// home answers /idp home with HomeReply.
func (r *Router) home(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) > 0 {
		return r.fail(ctx, invalidf("home takes no arguments; /idp home shows your resources, approvals and the catalog."))
	}
	h, err := r.Home(ctx, req)
	if err != nil {
		return r.fail(ctx, err)
	}
	return HomeReply(h)
}
