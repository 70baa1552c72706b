package survey

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Usage of the commands, for help.
const (
	SurveyUsage = "survey start [channel] | survey results [#id]"
	SurveyHelp  = "Admins: post the NPS survey now (to the configured survey channels, or the one given), or show a survey's results."
	NPSUsage    = "nps <0-10> [comment]"
	NPSHelp     = "Answer the open NPS survey: how likely are you to recommend the platform to a colleague?"
)

// Commands are the survey verbs of /idp, for the commands Router to call
// with the words after the verb, and the answers adapters receive from the
// survey's buttons and comment form. Every method returns a Reply, never
// an error.
type Commands struct {
	svc *Service
	ins Inserter
	org *platform.Org
	log *slog.Logger
}

// NewCommands returns the survey commands. ins schedules the closing of
// surveys started by command (the jobs Runner's River client); org tells
// who is an admin. It does no I/O.
func NewCommands(svc *Service, ins Inserter, org *platform.Org, log *slog.Logger) *Commands {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if org == nil {
		org = &platform.Org{}
	}
	return &Commands{svc: svc, ins: ins, org: org, log: log.With("component", "survey")}
}

// Survey runs "/idp survey start [channel]" and "/idp survey results
// [#id]"; args are the words after "survey". Only admins may run it.
func (c *Commands) Survey(ctx context.Context, req commands.Request, args []string) commands.Reply {
	if !c.org.IsAdmin(req.Actor) {
		return c.fail(ctx, platform.Errorf(platform.Forbidden, "Only platform admins can start surveys or see their results."))
	}
	sub := ""
	if len(args) > 0 {
		sub = strings.ToLower(args[0])
	}
	switch sub {
	case "start":
		if len(args) > 2 {
			return c.fail(ctx, platform.Errorf(platform.Invalid, "Usage: /idp survey start [channel]"))
		}
		return c.start(ctx, req, args[1:])
	case "results", "result":
		if len(args) > 2 {
			return c.fail(ctx, platform.Errorf(platform.Invalid, "Usage: /idp survey results [#id]"))
		}
		return c.results(ctx, req, args[1:])
	}
	msg := "Usage: /idp " + SurveyUsage
	if sub != "" {
		msg = fmt.Sprintf("Unknown survey command %q.", truncate(args[0], 32))
		if m := platform.Closest(sub, []string{"start", "results"}); m != "" {
			msg += " Did you mean " + m + "?"
		}
		msg += " Usage: /idp " + SurveyUsage
	}
	return c.fail(ctx, platform.Errorf(platform.Invalid, "%s", msg))
}

func (c *Commands) start(ctx context.Context, req commands.Request, args []string) commands.Reply {
	var channels []string
	switch {
	case len(args) == 1:
		ch, err := parseChannel(args[0])
		if err != nil {
			return c.fail(ctx, err)
		}
		channels = []string{ch}
	case len(c.svc.Channels(req.Platform)) > 0:
		channels = c.svc.Channels(req.Platform)
	case req.Channel != "":
		channels = []string{req.Channel}
	default:
		return c.fail(ctx, platform.Errorf(platform.Invalid, "Which channel? Give one: /idp survey start <channel>."))
	}
	type outcome struct {
		sv  Survey
		err error
	}
	var outs []outcome
	for _, ch := range channels {
		sv, err := c.svc.Start(ctx, c.ins, req.Platform, ch, req.Actor.ID)
		outs = append(outs, outcome{sv, err})
	}
	if len(outs) == 1 {
		o := outs[0]
		if o.err != nil {
			return c.fail(ctx, o.err)
		}
		return commands.Reply{Title: fmt.Sprintf("Survey %s posted in %s. It closes %s.",
			o.sv.Ref(), o.sv.Channel, FormatTime(o.sv.ClosesAt, c.svc.loc))}
	}
	reply := commands.Reply{}
	var fields []commands.KV
	posted := 0
	for i, o := range outs {
		if o.err != nil {
			fields = append(fields, commands.KV{Key: channels[i], Value: c.message(ctx, o.err)})
			continue
		}
		posted++
		fields = append(fields, commands.KV{Key: channels[i], Value: fmt.Sprintf("%s, closes %s", o.sv.Ref(), FormatTime(o.sv.ClosesAt, c.svc.loc))})
	}
	reply.Title = fmt.Sprintf("Survey posted in %d of %d channels.", posted, len(outs))
	reply.Sections = []commands.Section{{Fields: fields}}
	if posted == 0 {
		reply.Ephemeral = true
	}
	return reply
}

func (c *Commands) results(ctx context.Context, req commands.Request, args []string) commands.Reply {
	var (
		sv  Survey
		err error
	)
	if len(args) == 1 {
		id, perr := parseSurveyID(args[0])
		if perr != nil {
			return c.fail(ctx, perr)
		}
		sv, err = c.svc.store.Get(ctx, id)
	} else {
		sv, err = c.svc.store.Latest(ctx, req.Platform)
	}
	if err != nil {
		return c.fail(ctx, err)
	}
	prev, err := c.svc.store.Previous(ctx, sv)
	if err != nil {
		return c.fail(ctx, err)
	}
	reply := ResultReply(sv, prev, c.svc.loc)
	reply.Ephemeral = true
	return reply
}

// NPS runs "/idp nps <0-10> [comment]": the person's answer to the open
// survey of the channel they type in (or else of their platform). An
// answer without a comment offers a button to add one.
func (c *Commands) NPS(ctx context.Context, req commands.Request, args []string) commands.Reply {
	if len(args) == 0 {
		return c.fail(ctx, scoreError(""))
	}
	score, err := strconv.Atoi(strings.TrimSuffix(args[0], "/10"))
	if err != nil || score < 0 || score > 10 {
		return c.fail(ctx, scoreError(args[0]))
	}
	sv, err := c.svc.store.OpenFor(ctx, req.Platform, req.Channel)
	if err != nil {
		return c.fail(ctx, err)
	}
	r := c.record(ctx, req.Actor, sv.ID, score, strings.Join(args[1:], " "))
	if r.Err == nil && len(args) == 1 {
		r.Actions = append(r.Actions, commands.Action{Label: "Add a comment", Command: "nps " + args[0], Input: "Comment"})
	}
	return r
}

// Verbs are the commands surveys add to the router: nps for everyone,
// survey for admins.
func (c *Commands) Verbs() []commands.Verb {
	return []commands.Verb{
		{Name: "nps", Usage: NPSUsage, Help: NPSHelp, Example: "nps 9 self-service is great", Role: commands.Everyone, Run: c.NPS},
		{Name: "survey", Usage: SurveyUsage, Help: SurveyHelp, Example: "survey start", Role: commands.Admins, Run: c.Survey},
	}
}

func scoreError(got string) error {
	msg := "Give a score from 0 to 10, e.g. /idp nps 9 great self-service."
	if got != "" {
		msg = fmt.Sprintf("%q is not a score: give a whole number from 0 to 10, e.g. /idp nps 9 great self-service.", truncate(got, 16))
	}
	return &platform.Error{Code: platform.Invalid, Message: msg,
		Fields: []platform.FieldError{{Field: "score", Message: "must be a whole number from 0 to 10"}}}
}

// Answer records a click on a survey button (see ParseActionID) and
// returns the ephemeral thanks to show the person.
func (c *Commands) Answer(ctx context.Context, actor platform.Actor, surveyID int64, score int) commands.Reply {
	return c.record(ctx, actor, surveyID, score, "")
}

func (c *Commands) record(ctx context.Context, actor platform.Actor, surveyID int64, score int, comment string) commands.Reply {
	a, err := c.svc.Record(ctx, surveyID, actor.ID, score, comment)
	if err != nil {
		return c.fail(ctx, err)
	}
	title := fmt.Sprintf("Thanks! You answered %d to survey %s.", score, a.Survey.Ref())
	if a.Changed && a.Previous != score {
		title = fmt.Sprintf("Thanks! You changed your answer to survey %s from %d to %d.", a.Survey.Ref(), a.Previous, score)
	}
	text := "You can change it until " + FormatTime(a.Survey.ClosesAt, c.svc.loc) + "."
	if strings.TrimSpace(comment) != "" {
		text += "\nYour comment was saved; only the platform team reads it."
	} else {
		text += fmt.Sprintf("\nWant to say why? Add a comment: /idp nps %d <comment>", score)
	}
	return commands.Reply{Title: title, Ephemeral: true, Sections: []commands.Section{{Text: text}}}
}

// Comment records the comment a person typed in the form offered after
// their answer, and returns the ephemeral reply.
func (c *Commands) Comment(ctx context.Context, actor platform.Actor, surveyID int64, text string) commands.Reply {
	if err := c.svc.Comment(ctx, surveyID, actor.ID, text); err != nil {
		return c.fail(ctx, err)
	}
	return commands.Reply{Title: "Thanks for your comment! Only the platform team reads it.", Ephemeral: true}
}

// fail turns err into the Reply a person sees: a platform error's message,
// or for anything else "Something went wrong (ref: …)" with the chain
// logged under that reference.
func (c *Commands) fail(ctx context.Context, err error) commands.Reply {
	return commands.ErrorReply(ctx, c.log, err)
}

// message is the text fail would show for err, for one line of a reply.
func (c *Commands) message(ctx context.Context, err error) string { return c.fail(ctx, err).Title }

// channelMention matches a channel as chat clients insert it: Slack's
// "<#C0123|general>" or Discord's "<#1100000000000000001>".
var channelMention = regexp.MustCompile(`^<#([A-Za-z0-9]+)(\|[^>]*)?>$`)

// channelID matches the channel ids and names accepted as typed.
var channelID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)

// parseChannel returns the channel id in a typed channel argument.
func parseChannel(s string) (string, error) {
	s = strings.TrimSpace(s)
	if m := channelMention.FindStringSubmatch(s); m != nil {
		return m[1], nil
	}
	s = strings.TrimPrefix(s, "#")
	if !channelID.MatchString(s) {
		return "", &platform.Error{Code: platform.Invalid,
			Message: fmt.Sprintf("%q is not a channel: give its id or #name.", truncate(s, 32)),
			Fields:  []platform.FieldError{{Field: "channel", Message: "letters, digits, '.', '_' and '-' only"}}}
	}
	return s, nil
}

// parseSurveyID parses "#12" or "12".
func parseSurveyID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(s), "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, platform.Errorf(platform.Invalid, "%q is not a survey: give its number, e.g. #12.", truncate(s, 32))
	}
	return id, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
