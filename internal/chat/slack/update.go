package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// CallbackUpdate is the callback_id of the modal that changes a
// resource's parameters.
const CallbackUpdate = "idp_update"

// UpdateModal renders the update form of res: the changeable parameters
// of its service svc, pre-filled with res's current values, in the create
// form's widgets; immutable parameters are shown with their value, not
// asked. Its metadata names the resource (Metadata.Update).
func UpdateModal(res *platform.Resource, svc *platform.ServiceDefinition, meta Metadata) (slackapi.ModalViewRequest, error) {
	current := svc.Defaults(res.Parameters)
	var fields []platform.Field
	var fixed []string
	for _, f := range svc.Fields {
		if f.Immutable {
			fixed = append(fixed, fmt.Sprintf("`%s=%s`", escape(f.Name), escape(platform.FormatValue(current[f.Name]))))
			continue
		}
		f.Default = current[f.Name]
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		return slackapi.ModalViewRequest{}, platform.Errorf(platform.Invalid, "Nothing about %s can be changed: its parameters are all immutable. Create a new resource instead.", res.Service)
	}
	meta.Service, meta.Update = svc.Name, res.Ref()
	v, err := formModal(svc, fields, meta)
	if err != nil {
		return v, err
	}
	v.Title = plain("Update "+res.Name, maxTitle)
	v.Submit = plain("Update", maxTitle)
	v.CallbackID = CallbackUpdate
	about := fmt.Sprintf("*Update %s %s*\n%s of team %s in %s. The current values are filled in: change what you need.",
		escape(res.Name), res.Ref(), escape(svc.Name), escape(res.Team), escape(res.Environment))
	blocks := []slackapi.Block{slackapi.NewSectionBlock(mrkdwn(about, maxSectionText), nil, nil, slackapi.SectionBlockOptionBlockID("about"))}
	if len(fixed) > 0 {
		blocks = append(blocks, slackapi.NewContextBlock("immutable", mrkdwn("Immutable (create a new resource to change them): "+strings.Join(fixed, ", "), maxSectionText)))
	}
	v.Blocks.BlockSet = append(blocks, v.Blocks.BlockSet[1:]...)
	return v, nil
}

// updateView opens the update modal of the resource ref for actor, or
// returns the message that says why it cannot be updated.
func (a *Adapter) updateView(ctx context.Context, actor platform.Actor, ref, channel string) (slackapi.ModalViewRequest, *Msg) {
	refuse := func(err error) (slackapi.ModalViewRequest, *Msg) {
		a.metrics.Error(Platform, platform.ErrorCode(err))
		m := a.replyMessage(ctx, commands.ErrorReply(ctx, a.log, err))
		return slackapi.ModalViewRequest{}, &m
	}
	res, err := a.engine.Find(ctx, actor, ref)
	if err != nil {
		return refuse(err)
	}
	if err := a.engine.Updatable(ctx, actor, res); err != nil {
		return refuse(err)
	}
	svc, err := a.engine.Catalog().Lookup(res.Service)
	if err != nil {
		return refuse(platform.Wrap(platform.Unavailable, err, fmt.Sprintf("%s is no longer in the catalog; %s cannot be updated.", res.Service, res.Name)))
	}
	view, err := UpdateModal(res, svc, Metadata{Channel: channel})
	if err != nil {
		if platform.ErrorCode(err) == platform.Invalid {
			return refuse(err)
		}
		m := a.internal(ctx, "render update form", err)
		return slackapi.ModalViewRequest{}, &m
	}
	return view, nil
}

// updateSubmit handles an update modal's submission: the change is asked
// of the engine like /idp update; success closes the modal (old → new and
// the progress come in the resource's thread), problems come back inline.
func (a *Adapter) updateSubmit(ctx context.Context, cb slackapi.InteractionCallback) any {
	start := time.Now()
	ids := inputIDs(cb.View)
	outcome := "ok"
	defer func() { a.metrics.Command(Platform, "update", outcome, time.Since(start)) }()
	var md Metadata
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &md); err != nil || md.Update == "" {
		outcome = string(platform.Invalid)
		a.log.WarnContext(ctx, "update submission without usable metadata", "view", cb.View.ID, "err", err)
		return slackapi.NewErrorsViewSubmissionResponse(map[string]string{firstOr(ids, ""): "This form is out of date. Close it and run /idp update again."})
	}
	actor := a.who.actor(ctx, cb.User.ID, userName(cb.User))
	fail := func(err error) any {
		outcome = string(platform.ErrorCode(err))
		a.metrics.Error(Platform, platform.ErrorCode(err))
		return slackapi.NewErrorsViewSubmissionResponse(viewErrors(commands.ErrorReply(ctx, a.log, err), ids))
	}
	res, err := a.engine.Find(ctx, actor, md.Update)
	if err != nil {
		return fail(err)
	}
	svc, err := a.engine.Catalog().Lookup(res.Service)
	if err != nil {
		return fail(platform.Wrap(platform.Unavailable, err, fmt.Sprintf("%s is no longer in the catalog; %s cannot be updated.", res.Service, res.Name)))
	}
	values := viewValues(cb.View.State)
	current := svc.Defaults(res.Parameters)
	var words []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		// Only what was changed: the form shows every current value.
		if values[k] != platform.FormatValue(current[k]) {
			words = append(words, k+"="+values[k])
		}
	}
	changes, err := commands.ParseChanges(svc, res, words)
	if err != nil {
		return fail(err)
	}
	out, c, err := a.engine.Update(ctx, actor, res.Ref(), changes)
	if err != nil {
		return fail(err)
	}
	a.log.InfoContext(ctx, "update requested from modal", "request_id", out.ID, "service", out.Service, "user", actor.ID, "status", string(c.Status))
	return slackapi.NewClearViewSubmissionResponse()
}

// updateForm returns the ref of a button's command "update <ref>" with no
// values, which opens the update form; "" for any other command.
func updateForm(command string) string {
	words := strings.Fields(command)
	if len(words) != 2 || words[0] != "update" {
		return ""
	}
	return words[1]
}

// openUpdate opens the update form of ref for the person who clicked, or
// tells them privately why it cannot be updated.
func (a *Adapter) openUpdate(ctx context.Context, cb slackapi.InteractionCallback, ref string) {
	actor := a.who.actor(ctx, cb.User.ID, userName(cb.User))
	view, m := a.updateView(ctx, actor, ref, cb.Channel.ID)
	if m == nil {
		err := a.openView(ctx, cb.TriggerID, view)
		if err == nil {
			return
		}
		if m = a.viewFailed(ctx, err); m == nil {
			return
		}
	}
	a.tell(ctx, originOf(cb), cb.User.ID, *m)
}
