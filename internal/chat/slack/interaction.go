package slack

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/tracing"
)

// interact handles an interaction and returns the payload of its
// acknowledgement (nil: an empty 200).
func (a *Adapter) interact(ctx context.Context, cb slackapi.InteractionCallback) any {
	ctx, span := tracing.Start(ctx, "slack.ack interaction")
	defer span.End()
	switch cb.Type {
	case slackapi.InteractionTypeViewSubmission:
		switch cb.View.CallbackID {
		case CallbackCreate:
			return a.submit(ctx, cb)
		case CallbackPick:
			return a.picked(ctx, cb)
		case CallbackAction:
			return a.actionSubmit(ctx, cb)
		case CallbackUpdate:
			return a.updateSubmit(ctx, cb)
		}
	case slackapi.InteractionTypeBlockActions:
		for _, act := range cb.ActionCallback.BlockActions {
			a.blockAction(ctx, cb, *act)
		}
	}
	return nil
}

func userName(u slackapi.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Profile.DisplayName
}

// submit handles a create form's submission: success closes the modal (the
// progress thread comes from the outbox); problems come back inline, keyed
// by the input block of the field they concern.
func (a *Adapter) submit(ctx context.Context, cb slackapi.InteractionCallback) any {
	start := time.Now()
	ids := inputIDs(cb.View)
	var md Metadata
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &md); err != nil || md.Service == "" {
		a.log.WarnContext(ctx, "view submission without usable metadata", "view", cb.View.ID, "err", err)
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{firstOr(ids, "name"): "This form is out of date. Close it and run /idp create again."})
	}
	actor := a.who.actor(ctx, cb.User.ID, userName(cb.User))
	key, err := platform.IdempotencyKey(Platform, "view", cb.View.ID, actor)
	if err != nil {
		a.log.WarnContext(ctx, "view submission refused: no view id", "user", actor.ID)
		a.metrics.Error(Platform, platform.ErrorCode(err))
		a.metrics.Command(Platform, "create", string(platform.ErrorCode(err)), time.Since(start))
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{firstOr(ids, "name"): clip(platform.ErrorMessage(err), maxErrorText)})
	}
	rep := a.router.Load().Submit(ctx, commands.Submission{
		Actor:          actor,
		Platform:       Platform,
		Channel:        md.Channel,
		Service:        md.Service,
		Values:         viewValues(cb.View.State),
		DryRun:         md.DryRun,
		IdempotencyKey: key,
	})
	outcome := "ok"
	defer func() { a.metrics.Command(Platform, "create", outcome, time.Since(start)) }()
	if rep.Err == nil {
		if md.DryRun {
			return slackapi.NewUpdateViewSubmissionResponse(a.dryRunModal(rep, md))
		}
		a.log.InfoContext(ctx, "request created from modal", "request_id", refID(rep), "service", md.Service, "user", actor.ID)
		return slackapi.NewClearViewSubmissionResponse()
	}
	outcome = string(platform.ErrorCode(rep.Err))
	a.metrics.Error(Platform, platform.ErrorCode(rep.Err))
	return slackapi.NewErrorsViewSubmissionResponse(viewErrors(rep, ids))
}

func refID(rep commands.Reply) int64 {
	if rep.Resource == nil {
		return 0
	}
	return rep.Resource.ID
}

// dryRunModal shows what a dry run found, in place of the form.
func (a *Adapter) dryRunModal(rep commands.Reply, md Metadata) *slackapi.ModalViewRequest {
	v := noticeModal("Dry run", "", md)
	blocks, _ := replyBlocks(rep, maxModalBlocks, false)
	v.Blocks = slackapi.Blocks{BlockSet: blocks}
	return &v
}

// inputIDs returns the block ids of the view's input blocks, in order.
func inputIDs(v slackapi.View) []string {
	var out []string
	for _, b := range v.Blocks.BlockSet {
		if in, ok := b.(*slackapi.InputBlock); ok && in.BlockID != "" {
			out = append(out, in.BlockID)
		}
	}
	return out
}

func firstOr(ids []string, def string) string {
	for _, id := range ids {
		if id == def {
			return def
		}
	}
	if len(ids) > 0 {
		return ids[0]
	}
	return def
}

// viewValues reads a submitted view's state: the value of each input
// block by block id. An unchecked checkbox is "false"; an empty text or
// number input is left out, so that the field takes its default.
func viewValues(state *slackapi.ViewState) map[string]string {
	out := map[string]string{}
	if state == nil {
		return out
	}
	for blockID, actions := range state.Values {
		for _, act := range actions {
			switch act.Type {
			case "static_select", "radio_buttons":
				if act.SelectedOption.Value != "" {
					out[blockID] = act.SelectedOption.Value
				}
			case "checkboxes":
				out[blockID] = "false"
				for _, o := range act.SelectedOptions {
					if o.Value == "true" {
						out[blockID] = "true"
					}
				}
			default:
				if strings.TrimSpace(act.Value) != "" {
					out[blockID] = act.Value
				}
			}
		}
	}
	return out
}

// viewErrors maps a failed submission's problems to input blocks. A
// problem whose field has no block goes to the block its message or rule
// names, else to the name block, prefixed with what it is about.
func viewErrors(rep commands.Reply, ids []string) map[string]string {
	has := map[string]bool{}
	for _, id := range ids {
		has[id] = true
	}
	out := map[string]string{}
	add := func(key, msg string) {
		if prev, ok := out[key]; ok {
			msg = prev + "; " + msg
		}
		out[key] = clip(msg, maxErrorText)
	}
	for _, fe := range rep.Errors {
		msg := fe.Message
		key := fe.Field
		if !has[key] {
			key = relevantField(fe, ids)
			if fe.Field != "" {
				msg = fe.Field + ": " + msg
			}
		}
		if fe.Rule != "" && !strings.Contains(msg, fe.Rule) {
			msg += " (rule " + fe.Rule + ")"
		}
		add(key, msg)
	}
	if len(out) == 0 {
		title := rep.Title
		if title == "" {
			title = "The request could not be submitted."
		}
		add(firstOr(ids, "name"), title)
	}
	return out
}

// relevantField picks the input block a problem without one of its own
// belongs to: a service parameter its message or rule mentions, else a
// common field it mentions, else the name.
func relevantField(fe platform.FieldError, ids []string) string {
	text := fe.Message + " " + fe.Rule
	var commonHit string
	for _, id := range ids {
		if !mentions(text, id) {
			continue
		}
		if !common(id) {
			return id
		}
		if commonHit == "" {
			commonHit = id
		}
	}
	if commonHit != "" {
		return commonHit
	}
	return firstOr(ids, "name")
}

// mentions reports whether text names id as a word (or with spaces for
// underscores: "high availability").
func mentions(text, id string) bool {
	for _, form := range []string{id, strings.ReplaceAll(id, "_", " "), strings.ReplaceAll(id, "_", "-")} {
		re := regexp.MustCompile(`(?i)(^|[^a-z0-9_])` + regexp.QuoteMeta(form) + `($|[^a-z0-9_])`)
		if re.MatchString(text) {
			return true
		}
	}
	return false
}

// picked handles "Next" on the service picker: the view becomes the chosen
// service's form.
func (a *Adapter) picked(ctx context.Context, cb slackapi.InteractionCallback) any {
	service := ""
	if cb.View.State != nil {
		service = cb.View.State.Values[ActionService][ActionService].SelectedOption.Value
	}
	if service == "" {
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{ActionService: "Pick a service."})
	}
	var md Metadata
	_ = json.Unmarshal([]byte(cb.View.PrivateMetadata), &md)
	v := a.serviceView(ctx, cb.User, service, md.Channel)
	return slackapi.NewUpdateViewSubmissionResponse(&v)
}

// serviceView is the create form of service, or a notice saying why it
// cannot be created.
func (a *Adapter) serviceView(ctx context.Context, user slackapi.User, service, channel string) slackapi.ModalViewRequest {
	md := Metadata{Channel: channel}
	actor := a.who.actor(ctx, user.ID, userName(user))
	form, err := a.router.Load().Form(ctx, actor, service)
	if err == nil && form.Unavailable != nil {
		err = form.Unavailable
	}
	if err != nil {
		return noticeModal("Create a resource", a.userMessage(ctx, "build create form", err), md)
	}
	v, err := FormModal(form, md)
	if err != nil {
		return noticeModal("Create a resource", a.internal(ctx, "render create form", err).Text, md)
	}
	return v
}

// blockAction handles a button or select. It only starts the work: the
// acknowledgement must not wait for it.
func (a *Adapter) blockAction(ctx context.Context, cb slackapi.InteractionCallback, act slackapi.BlockAction) {
	bg := func(f func(ctx context.Context)) {
		a.bg.Go(func() {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slowWork)
			defer cancel()
			f(wctx)
		})
	}
	switch act.ActionID {
	case ActionService:
		var md Metadata
		_ = json.Unmarshal([]byte(cb.View.PrivateMetadata), &md)
		bg(func(ctx context.Context) {
			v := a.serviceView(ctx, cb.User, act.SelectedOption.Value, md.Channel)
			if _, err := a.api.UpdateViewContext(ctx, v, "", cb.View.Hash, cb.View.ID); err != nil {
				if slackCode(err) == "hash_conflict" {
					return // a newer choice already updated the view
				}
				a.log.ErrorContext(ctx, "update view to the chosen service's form", "view", cb.View.ID, "err", err)
			}
		})
	case ActionConfirm:
		bg(func(ctx context.Context) {
			start := time.Now()
			actor := a.who.actor(ctx, cb.User.ID, userName(cb.User))
			rep := a.router.Load().Handle(ctx, commands.Request{Actor: actor, Platform: Platform, Channel: cb.Channel.ID, Text: act.Value})
			outcome := "ok"
			if rep.Err != nil {
				outcome = string(platform.ErrorCode(rep.Err))
				a.metrics.Error(Platform, platform.ErrorCode(rep.Err))
			}
			a.metrics.Command(Platform, confirmVerb(act.Value), outcome, time.Since(start))
			a.respond(ctx, cb.ResponseURL, a.replyMessage(ctx, rep), true, false)
		})
	case ActionCancel:
		bg(func(ctx context.Context) { a.respond(ctx, cb.ResponseURL, Msg{}, false, true) })
	case ActionHomeCreate:
		// The trigger lives 3 s: the modal opens at once.
		bg(func(ctx context.Context) { a.homeAction(ctx, cb, act) })
	default:
		switch {
		case strings.HasPrefix(act.ActionID, ActionHomePage):
			bg(func(ctx context.Context) { a.homeAction(ctx, cb, act) })
		case strings.HasPrefix(act.ActionID, ActionRun) && updateForm(act.Value) != "":
			// Update without values (the Home tab's button) is the form
			// pre-filled with the current values; the trigger lives 3 s.
			bg(func(ctx context.Context) { a.openUpdate(ctx, cb, updateForm(act.Value)) })
		case strings.HasPrefix(act.ActionID, ActionRun) && strings.TrimSpace(act.Value) != "":
			bg(func(ctx context.Context) {
				a.runAction(ctx, cb, strings.TrimSpace(act.Value))
				a.homeClicked(ctx, cb)
			})
		case strings.HasPrefix(act.ActionID, ActionAsk):
			// The trigger lives 3 s: the modal opens at once.
			bg(func(ctx context.Context) { a.askAction(ctx, cb, act.Value) })
		case strings.HasPrefix(act.ActionID, "idp_"):
			a.log.WarnContext(ctx, "slack action not handled", "action_id", act.ActionID, "user", cb.User.ID)
			bg(func(ctx context.Context) {
				a.tell(ctx, originOf(cb), cb.User.ID, Msg{Text: ":warning: This button is no longer handled; run the command again."})
			})
		}
	}
}

func confirmVerb(text string) string {
	if w := strings.Fields(text); len(w) > 0 && verbs[strings.ToLower(w[0])] {
		return strings.ToLower(w[0])
	}
	return "other"
}
