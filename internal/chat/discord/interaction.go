package discord

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"github.com/idpbot/idpbot/internal/chat"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/tracing"
)

// autocompleteBudget bounds the work of an autocomplete answer, which
// cannot be deferred.
const autocompleteBudget = 2 * time.Second

// key returns the idempotency key of what actor asks through interaction
// i, so that a redelivered interaction does not create twice and another
// person's never answers with theirs; an interaction without an id is
// refused with the answer returned instead.
func (a *Adapter) key(ctx context.Context, i *discordgo.Interaction, actor platform.Actor) (string, *discordgo.InteractionResponse) {
	k, err := platform.IdempotencyKey(Platform, "interaction", i.ID, actor)
	if err != nil {
		a.log.WarnContext(ctx, "discord interaction refused: no interaction id", "actor", actor.ID)
		return "", reply(a.errorMessage(ctx, err), false)
	}
	return k, nil
}

// ActorOf returns the person who triggered an interaction: "discord:<user
// id>", their username, and "discord-role:<id>" for each of their roles in
// the guild.
func ActorOf(i *discordgo.Interaction) (platform.Actor, bool) {
	var u *discordgo.User
	var roles []string
	switch {
	case i.Member != nil && i.Member.User != nil:
		u, roles = i.Member.User, i.Member.Roles
	case i.User != nil:
		u = i.User
	}
	if u == nil || !isDigits(u.ID) {
		return platform.Actor{}, false
	}
	a := platform.Actor{ID: Platform + ":" + u.ID, Name: u.Username}
	for _, r := range roles {
		if isDigits(r) {
			a.Groups = append(a.Groups, "discord-role:"+r)
		}
	}
	return a, true
}

// handle answers one interaction: it returns the response to send first
// and, when the answer comes later, a function that completes it, to be
// called in the background once the response was sent.
func (a *Adapter) handle(ctx context.Context, i *discordgo.Interaction) (resp *discordgo.InteractionResponse, later func()) {
	ctx, span := tracing.Start(ctx, "discord.ack interaction")
	defer span.End()
	defer func() {
		if p := recover(); p != nil {
			ref := commands.NewRef()
			a.log.ErrorContext(ctx, "discord interaction panicked", "ref", ref, "interaction_id", i.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp, later = reply(Message{Content: "⚠️ Something went wrong (ref: " + ref + ")"}, false), nil
		}
	}()
	switch i.Type {
	case discordgo.InteractionPing:
		return &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}, nil
	case discordgo.InteractionApplicationCommand:
		return a.command(ctx, i)
	case discordgo.InteractionApplicationCommandAutocomplete:
		return a.autocomplete(ctx, i), nil
	case discordgo.InteractionMessageComponent:
		return a.component(ctx, i)
	case discordgo.InteractionModalSubmit:
		return a.modalSubmit(ctx, i)
	}
	return reply(Message{Content: "⚠️ idpbot does not handle this kind of interaction."}, false), nil
}

// interactionKind labels an interaction type for metrics.
func interactionKind(t discordgo.InteractionType) string {
	switch t {
	case discordgo.InteractionPing:
		return "ping"
	case discordgo.InteractionApplicationCommand:
		return "command"
	case discordgo.InteractionApplicationCommandAutocomplete:
		return "autocomplete"
	case discordgo.InteractionMessageComponent:
		return "component"
	case discordgo.InteractionModalSubmit:
		return "modal"
	}
	return "other"
}

// reply is an ephemeral message response, or an update of the message a
// component is on.
func reply(m Message, update bool) *discordgo.InteractionResponse {
	data := &discordgo.InteractionResponseData{
		Content:         m.Content,
		Embeds:          m.Embeds,
		Components:      m.Components,
		AllowedMentions: noMentions(),
	}
	if update {
		if data.Embeds == nil {
			data.Embeds = []*discordgo.MessageEmbed{}
		}
		if data.Components == nil {
			data.Components = []discordgo.MessageComponent{}
		}
		return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseUpdateMessage, Data: data}
	}
	data.Flags = discordgo.MessageFlagsEphemeral
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: data}
}

// answer runs work and answers with its message when it is done within the
// ack budget; otherwise it answers with a deferred response (an ephemeral
// "thinking…" message, or a deferred update of a component's message) and
// returns the function that replaces it with the message once work is
// done.
func (a *Adapter) answer(ctx context.Context, i *discordgo.Interaction, verb string, update bool, work func(context.Context) commands.Reply) (*discordgo.InteractionResponse, func()) {
	return a.answerWith(ctx, i, verb, update, work, a.render)
}

// answerWith is answer with the reply rendered by render.
func (a *Adapter) answerWith(ctx context.Context, i *discordgo.Interaction, verb string, update bool, work func(context.Context) commands.Reply,
	render func(context.Context, *discordgo.Interaction, commands.Reply) Message) (*discordgo.InteractionResponse, func()) {
	start := time.Now()
	m, inTime, later := chat.Within(ctx, chat.Ack{Budget: a.ackBudget, Limit: slowWork, BG: &a.bg}, func(wctx context.Context) (m Message) {
		defer func() {
			if p := recover(); p != nil {
				ref := commands.NewRef()
				a.log.ErrorContext(ctx, "discord interaction panicked", "ref", ref, "interaction_id", i.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				m = Message{Content: "⚠️ Something went wrong (ref: " + ref + ")"}
			}
		}()
		rep := work(wctx)
		outcome := "ok"
		if rep.Err != nil {
			code := platform.ErrorCode(rep.Err)
			outcome = string(code)
			a.metrics.Error(Platform, code)
		}
		a.metrics.Command(Platform, verb, outcome, time.Since(start))
		return render(ctx, i, rep)
	})
	if inTime {
		return reply(m, update), nil
	}
	deferred := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral}}
	if update {
		deferred = &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}
	}
	return deferred, func() { a.editOriginal(i, later()) }
}

// editOriginal replaces an interaction's (deferred) response with m.
func (a *Adapter) editOriginal(i *discordgo.Interaction, m Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	content, embeds, comps := m.Content, m.Embeds, m.Components
	if embeds == nil {
		embeds = []*discordgo.MessageEmbed{}
	}
	if comps == nil {
		comps = []discordgo.MessageComponent{}
	}
	_, err := a.s.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: &content, Embeds: &embeds, Components: &comps, AllowedMentions: noMentions()},
		discordgo.WithContext(ctx))
	if err != nil {
		a.log.ErrorContext(ctx, "complete a deferred discord answer", "interaction_id", i.ID, "err", a.apiErr("edit original response", err))
	}
}

// render turns a command's reply into the ephemeral message that answers
// it; actions that cannot be buttons are logged.
func (a *Adapter) render(ctx context.Context, i *discordgo.Interaction, rep commands.Reply) Message {
	var m Message
	var problems []error
	if rep.Resource != nil && rep.Err == nil {
		m, problems = resultMessage(rep, a.where(i))
	} else {
		m, problems = replyMessage(rep)
	}
	a.logActionProblems(ctx, problems)
	return m
}

// renderReply renders a reply as it is, whatever it did: the answer to a
// button, which may approve, reject or delete as well as show.
func (a *Adapter) renderReply(ctx context.Context, _ *discordgo.Interaction, rep commands.Reply) Message {
	m, problems := replyMessage(rep)
	a.logActionProblems(ctx, problems)
	return m
}

// logActionProblems logs why actions were shown as text instead of
// buttons: a bug of the command that offered them.
func (a *Adapter) logActionProblems(ctx context.Context, problems []error) {
	for _, err := range problems {
		a.log.ErrorContext(ctx, "action shown as text instead of a button", "err", err)
	}
}

// where says where a request made in interaction i is told.
func (a *Adapter) where(i *discordgo.Interaction) string {
	switch {
	case a.requests != "":
		return "in <#" + a.requests + ">"
	case i.GuildID == "":
		return "in this conversation"
	}
	return "under the request's message in <#" + i.ChannelID + ">"
}

// errorMessage renders an error for the person who caused it; internal
// errors are logged with a reference shown instead.
func (a *Adapter) errorMessage(ctx context.Context, err error) Message {
	if platform.ErrorCode(err) == platform.Internal {
		ref := commands.NewRef()
		a.log.ErrorContext(ctx, "discord interaction failed", "ref", ref, "err", err)
		return Message{Content: "⚠️ Something went wrong (ref: " + ref + ")"}
	}
	a.metrics.Error(Platform, platform.ErrorCode(err))
	return ReplyMessage(commands.Reply{Title: platform.ErrorMessage(err), Err: err, Errors: platform.ErrorFields(err)})
}

// command answers /idp.
func (a *Adapter) command(ctx context.Context, i *discordgo.Interaction) (*discordgo.InteractionResponse, func()) {
	data := i.ApplicationCommandData()
	if data.Name != CommandName || len(data.Options) == 0 {
		return reply(Message{Content: fmt.Sprintf("⚠️ Unknown command /%s; idpbot answers /%s.", escape(data.Name), CommandName)}, false), nil
	}
	actor, ok := ActorOf(i)
	if !ok {
		return reply(Message{Content: "⚠️ Discord did not say who you are; try again."}, false), nil
	}
	sub := data.Options[0]
	opts := optionValues(sub.Options)
	var text string
	switch sub.Name {
	case subCreate:
		if sub.Type == discordgo.ApplicationCommandOptionSubCommandGroup {
			if len(sub.Options) == 0 {
				return reply(Message{Content: "⚠️ Which service? Use /idp create <service>."}, false), nil
			}
			return a.create(ctx, i, actor, sub.Options[0].Name, sub.Options[0].Options)
		}
		service, values := opts[optService], opts[optValues]
		dry := opts[optDryRun] == "true"
		if strings.TrimSpace(values) == "" {
			return a.openForm(ctx, i, actor, service, dry), nil
		}
		text = "create " + quote(service) + " " + values
		if dry {
			text += " --dry-run"
		}
	case subCatalog:
		text = "catalog"
		if f := opts[optFilter]; f != "" {
			text += " " + quote(f)
		}
	case subList:
		text = "list"
		if t := opts[optTeam]; t != "" {
			text += " --team " + quote(t)
		}
		if e := opts[optEnv]; e != "" {
			text += " --env " + quote(e)
		}
		if opts[optMine] == "true" {
			text += " --mine"
		}
		if opts[optAll] == "true" {
			text += " --all"
		}
		if st := opts[optState]; st != "" {
			text += " --state " + quote(st)
		}
		if opts[optPending] == "true" {
			text += " --pending"
		}
	case subHome:
		text = "home"
	case subStatus, subDelete:
		text = sub.Name + " " + quote(opts[optName])
	case subUpdate:
		text = "update " + quote(opts[optName]) + " " + opts[optValues]
	case subRetry:
		text = "retry " + quote(opts[optName])
	case subCreds:
		text = "credentials " + quote(opts[optName])
		if opts[optRotate] == "true" {
			text += " --rotate"
		}
	case subForget:
		text = "forget " + quote(opts[optName]) + " --reason " + quote(opts[optReason])
	case subHelp:
		text = "help"
		if c := opts[optCommand]; c != "" {
			text += " " + quote(c)
		}
	case subRun:
		text = opts[optText]
	default:
		return reply(Message{Content: fmt.Sprintf("⚠️ Unknown subcommand %s. See /idp help.", escape(sub.Name))}, false), nil
	}
	return a.run(ctx, i, actor, sub.Name, text)
}

// run answers a command given as text, as the console would.
func (a *Adapter) run(ctx context.Context, i *discordgo.Interaction, actor platform.Actor, verb, text string) (*discordgo.InteractionResponse, func()) {
	key, refused := a.key(ctx, i, actor)
	if refused != nil {
		return refused, nil
	}
	req := commands.Request{Actor: actor, Platform: Platform, Channel: i.ChannelID, Text: text, IdempotencyKey: key}
	return a.answer(ctx, i, verb, false, func(ctx context.Context) commands.Reply {
		rep := a.router.Load().Handle(ctx, req)
		if verb == subHelp && rep.Err == nil {
			// First: a long help is cut to Discord's 2000 characters from
			// the end.
			rep.Sections = append([]commands.Section{{Heading: "On Discord",
				Text: "Options are typed in the command: /idp create postgresql-database name:orders-db size:medium, /idp list team:payments. " +
					"/idp run text:… runs any command as written below."}}, rep.Sections...)
		}
		return rep
	})
}

// create submits a service's form given as the subcommand's options, or
// opens the modal of a service asked that way.
func (a *Adapter) create(ctx context.Context, i *discordgo.Interaction, actor platform.Actor, service string, options []*discordgo.ApplicationCommandInteractionDataOption) (*discordgo.InteractionResponse, func()) {
	values := optionValues(options)
	dry := values[optDryRun] == "true"
	delete(values, optDryRun)
	if a.layout.inModal(service) {
		return a.openForm(ctx, i, actor, service, dry), nil
	}
	key, refused := a.key(ctx, i, actor)
	if refused != nil {
		return refused, nil
	}
	sub := commands.Submission{Actor: actor, Platform: Platform, Channel: i.ChannelID, Service: service, Values: values, DryRun: dry,
		IdempotencyKey: key}
	return a.answer(ctx, i, subCreate, false, func(ctx context.Context) commands.Reply { return a.router.Load().Submit(ctx, sub) })
}

// optionValues returns options' values as typed: strings as they are,
// integers in decimal, booleans as true or false.
func optionValues(opts []*discordgo.ApplicationCommandInteractionDataOption) map[string]string {
	out := make(map[string]string, len(opts))
	for _, o := range opts {
		switch v := o.Value.(type) {
		case string:
			out[o.Name] = v
		case float64:
			out[o.Name] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			out[o.Name] = strconv.FormatBool(v)
		case nil:
		default:
			out[o.Name] = fmt.Sprint(v)
		}
	}
	return out
}

// quote makes s one word of a command line, whatever it contains.
func quote(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// openForm answers with the modal of service's form (text inputs, at most
// five), or explains how to request it when the form does not fit.
func (a *Adapter) openForm(ctx context.Context, i *discordgo.Interaction, actor platform.Actor, service string, dry bool) *discordgo.InteractionResponse {
	form, err := a.router.Load().Form(ctx, actor, service)
	if err == nil && form.Unavailable != nil {
		err = form.Unavailable
	}
	if err != nil {
		return reply(a.errorMessage(ctx, err), false)
	}
	svc := form.Service
	suffix := ":new"
	if dry {
		suffix = ":dry"
	}
	if len(form.Fields) > maxModalInputs || len(idCreate+svc.Name+suffix) > maxCustomID {
		names := make([]string, len(form.Fields))
		for i, f := range form.Fields {
			names[i] = f.Name
		}
		why := a.layout.why[svc.Name]
		if why == "" {
			why = "the catalog does not fit in Discord's command options"
		}
		return reply(Message{Content: clip(fmt.Sprintf("⚠️ %s cannot be asked as options here (%s), and its %d fields are more than a Discord form holds (%d). "+
			"Request it as text: `/idp run text:create %s name=… key=value …` with the fields %s; missing ones take their defaults.",
			escape(svc.Name), escape(why), len(form.Fields), maxModalInputs, svc.Name, escape(strings.Join(names, ", "))), maxContent)}, false)
	}
	title := svc.Title
	if title == "" {
		title = svc.Name
	}
	title = "New " + title
	if dry {
		title = "Dry run: " + title
	}
	var rows []discordgo.MessageComponent
	for _, f := range form.Fields {
		rows = append(rows, discordgo.ActionsRow{Components: []discordgo.MessageComponent{textInput(f)}})
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionResponseModal, Data: &discordgo.InteractionResponseData{
		CustomID: idCreate + svc.Name + suffix, Title: clip(title, maxModalTitle), Components: rows,
	}}
}

// textInput renders a form field as a modal's text input named after it,
// with its default filled in and its constraint as placeholder.
func textInput(f platform.Field) discordgo.TextInput {
	in := discordgo.TextInput{CustomID: f.Name, Label: clip(f.Label(), maxInputLabel), Style: discordgo.TextInputShort,
		Required: f.Required && f.Default == nil, Value: clip(platform.FormatValue(f.Default), maxTextInput)}
	hint := f.Description
	switch f.Kind {
	case platform.KindEnum, platform.KindBoolean, platform.KindInteger:
		hint = f.Constraint()
	case platform.KindString:
		if f.MaxLength > longText {
			in.Style = discordgo.TextInputParagraph
		}
		if f.MaxLength > 0 {
			in.MaxLength = min(f.MaxLength, maxTextInput)
		}
		if f.MinLength > 0 {
			in.MinLength = min(f.MinLength, maxTextInput)
		}
	}
	in.Placeholder = clip(hint, maxPlaceholder)
	return in
}

// modalSubmit submits a create modal, or an Input action's.
func (a *Adapter) modalSubmit(ctx context.Context, i *discordgo.Interaction) (*discordgo.InteractionResponse, func()) {
	data := i.ModalSubmitData()
	if cmd, ok := strings.CutPrefix(data.CustomID, idWith); ok && strings.TrimSpace(cmd) != "" {
		return a.actionSubmit(ctx, i, strings.TrimSpace(cmd))
	}
	rest, ok := strings.CutPrefix(data.CustomID, idCreate)
	cut := strings.LastIndex(rest, ":")
	if !ok || cut < 0 {
		return reply(Message{Content: "⚠️ This form is no longer handled; run /idp create again."}, false), nil
	}
	service, dry := rest[:cut], rest[cut+1:] == "dry"
	actor, ok := ActorOf(i)
	if !ok {
		return reply(Message{Content: "⚠️ Discord did not say who you are; try again."}, false), nil
	}
	values := modalValues(data.Components)
	key, refused := a.key(ctx, i, actor)
	if refused != nil {
		return refused, nil
	}
	sub := commands.Submission{Actor: actor, Platform: Platform, Channel: i.ChannelID, Service: service, Values: values, DryRun: dry,
		IdempotencyKey: key}
	return a.answer(ctx, i, subCreate, false, func(ctx context.Context) commands.Reply { return a.router.Load().Submit(ctx, sub) })
}

// component answers a button: Delete confirms a deletion, Cancel drops it
// (either replaces the confirmation); an action's button runs its command
// as the clicker, or first opens the modal that asks for its input.
func (a *Adapter) component(ctx context.Context, i *discordgo.Interaction) (*discordgo.InteractionResponse, func()) {
	id := i.MessageComponentData().CustomID
	actor, ok := ActorOf(i)
	if !ok {
		return reply(Message{Content: "⚠️ Discord did not say who you are; try again."}, false), nil
	}
	if ref, ok := strings.CutPrefix(id, idCancel); ok {
		return reply(Message{Content: fmt.Sprintf("Deletion of %s cancelled; nothing was changed.", escape(ref))}, true), nil
	}
	if ref, ok := strings.CutPrefix(id, idDelete); ok && ref != "" {
		key, refused := a.key(ctx, i, actor)
		if refused != nil {
			return refused, nil
		}
		req := commands.Request{Actor: actor, Platform: Platform, Channel: i.ChannelID, Text: "delete " + quote(ref) + " --yes", Interactive: true,
			IdempotencyKey: key}
		return a.answer(ctx, i, subDelete, true, func(ctx context.Context) commands.Reply { return a.router.Load().Handle(ctx, req) })
	}
	if cmd, ok := strings.CutPrefix(id, idRun); ok && strings.TrimSpace(cmd) != "" {
		return a.runAction(ctx, i, actor, cmd)
	}
	if rest, ok := strings.CutPrefix(id, idAsk); ok {
		if label, cmd, ok := parseAsk(rest); ok {
			return actionModal(label, cmd), nil
		}
	}
	return reply(Message{Content: "⚠️ This button is no longer handled; run the command again."}, false), nil
}

// runAction runs the command of an action as the person who clicked it
// (their own teams and roles apply) and answers them alone with the
// result; the message the button is on stays as it is.
func (a *Adapter) runAction(ctx context.Context, i *discordgo.Interaction, actor platform.Actor, command string) (*discordgo.InteractionResponse, func()) {
	key, refused := a.key(ctx, i, actor)
	if refused != nil {
		return refused, nil
	}
	req := commands.Request{Actor: actor, Platform: Platform, Channel: i.ChannelID, Text: command, IdempotencyKey: key}
	a.log.InfoContext(ctx, "discord action", "interaction_id", i.ID, "actor", actor.ID, "verb", actionVerb(command))
	return a.answerWith(ctx, i, actionVerb(command), false, func(ctx context.Context) commands.Reply { return a.router.Load().Handle(ctx, req) },
		a.renderReply)
}

// actionSubmit runs the command of an Input action with the text its
// modal collected, as one quoted argument.
func (a *Adapter) actionSubmit(ctx context.Context, i *discordgo.Interaction, command string) (*discordgo.InteractionResponse, func()) {
	actor, ok := ActorOf(i)
	if !ok {
		return reply(Message{Content: "⚠️ Discord did not say who you are; try again."}, false), nil
	}
	text := strings.TrimSpace(modalValues(i.ModalSubmitData().Components)[actionInput])
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		return reply(Message{Content: "⚠️ The text is required; click the button again and fill it in."}, false), nil
	case n > maxActionInput:
		return reply(Message{Content: fmt.Sprintf("⚠️ The text is %d characters; at most %d are allowed. Click the button again with a shorter one.", n, maxActionInput)}, false), nil
	}
	return a.runAction(ctx, i, actor, commands.Action{Command: command, Input: actionInput}.CommandWith(text))
}

// modalValues returns the values of a submitted modal's text inputs by
// custom id.
func modalValues(cs []discordgo.MessageComponent) map[string]string {
	values := map[string]string{}
	var walk func(cs []discordgo.MessageComponent)
	walk = func(cs []discordgo.MessageComponent) {
		for _, c := range cs {
			switch c := c.(type) {
			case *discordgo.ActionsRow:
				walk(c.Components)
			case *discordgo.TextInput:
				values[c.CustomID] = c.Value
			}
		}
	}
	walk(cs)
	return values
}

// autocomplete suggests values for the option being typed: the actor's
// teams, environments, services, catalog filters, a parameter's options or
// the resources the actor can see.
func (a *Adapter) autocomplete(ctx context.Context, i *discordgo.Interaction) *discordgo.InteractionResponse {
	ctx, cancel := context.WithTimeout(ctx, autocompleteBudget)
	defer cancel()
	data := i.ApplicationCommandData()
	actor, _ := ActorOf(i)
	var choices []*discordgo.ApplicationCommandOptionChoice
	if len(data.Options) > 0 {
		sub := data.Options[0]
		opts, service := sub.Options, ""
		if sub.Type == discordgo.ApplicationCommandOptionSubCommandGroup && len(sub.Options) > 0 {
			opts, service = sub.Options[0].Options, sub.Options[0].Name
		}
		for _, o := range opts {
			if o.Focused {
				typed, _ := o.Value.(string)
				choices = a.suggest(ctx, actor, sub.Name, service, o.Name, typed)
				break
			}
		}
	}
	if choices == nil {
		choices = []*discordgo.ApplicationCommandOptionChoice{}
	}
	return &discordgo.InteractionResponse{Type: discordgo.InteractionApplicationCommandAutocompleteResult,
		Data: &discordgo.InteractionResponseData{Choices: choices}}
}

func (a *Adapter) suggest(ctx context.Context, actor platform.Actor, sub, service, option, typed string) []*discordgo.ApplicationCommandOptionChoice {
	org, cat := a.engine.Org(), a.engine.Catalog()
	switch {
	case option == optName && slices.Contains([]string{subStatus, subDelete, subUpdate, subRetry, subCreds, subForget}, sub):
		return a.resourceChoices(ctx, actor, typed)
	case option == optTeam:
		teams := org.TeamsOf(actor)
		if org.IsAdmin(actor) || sub == subList && org.IsApprover(actor) {
			teams = org.TeamNames()
		}
		return matching(teams, typed)
	case option == optEnvironment || option == optEnv:
		return matching(org.EnvironmentNames(), typed)
	case option == optService:
		return matching(cat.Names(), typed)
	case option == optFilter:
		return matching(append(cat.Types(), cat.Names()...), typed)
	case service != "" && option == platform.UpstreamField:
		form, err := a.router.Load().Form(ctx, actor, service)
		if err != nil {
			a.log.WarnContext(ctx, "autocomplete upstream", "err", err)
			return nil
		}
		if f, ok := form.Field(option); ok {
			return matching(f.Options, typed)
		}
	case service != "":
		if svc, err := cat.Lookup(service); err == nil {
			if f, ok := svc.Field(option); ok {
				return matching(f.Options, typed)
			}
		}
	}
	return nil
}

// matching returns the values that contain typed (case-insensitively),
// those starting with it first, at most 25.
func matching(values []string, typed string) []*discordgo.ApplicationCommandOptionChoice {
	t := strings.ToLower(strings.TrimSpace(typed))
	var first, rest []string
	for _, v := range values {
		lv := strings.ToLower(v)
		switch {
		case v == "" || utf8.RuneCountInString(v) > maxChoiceName:
		case strings.HasPrefix(lv, t):
			first = append(first, v)
		case strings.Contains(lv, t):
			rest = append(rest, v)
		}
	}
	var out []*discordgo.ApplicationCommandOptionChoice
	for _, v := range slices.Concat(first, rest) {
		if len(out) == maxChoices {
			break
		}
		out = append(out, &discordgo.ApplicationCommandOptionChoice{Name: v, Value: v})
	}
	return out
}

// resourceChoices suggests the resources actor can see whose name or #id
// contains typed; the value is the #id.
func (a *Adapter) resourceChoices(ctx context.Context, actor platform.Actor, typed string) []*discordgo.ApplicationCommandOptionChoice {
	rs, err := a.engine.List(ctx, actor, platform.ListOptions{Limit: 100})
	if err != nil {
		a.log.WarnContext(ctx, "autocomplete resources", "err", err)
		return nil
	}
	t := strings.ToLower(strings.TrimSpace(typed))
	var out []*discordgo.ApplicationCommandOptionChoice
	for _, r := range rs {
		if len(out) == maxChoices {
			break
		}
		if t != "" && !strings.Contains(r.Name, t) && !strings.Contains(r.Ref(), t) {
			continue
		}
		label := fmt.Sprintf("%s %s · %s · %s/%s · %s", r.Name, r.Ref(), r.Service, r.Team, r.Environment, r.State)
		out = append(out, &discordgo.ApplicationCommandOptionChoice{Name: clip(label, maxChoiceName), Value: r.Ref()})
	}
	return out
}
