// Package commands implements idpbot's verbs (help, catalog, create, list,
// home, status, delete, update, retry, credentials, forget, approve,
// reject, extend, audit, support, and verbs other packages add)
// independently of any chat platform. Adapters turn what a person typed
// into a Request, pass it to Router.Handle, and render the Reply; forms
// they collect go to Router.Submit. Errors become Replies at
// one boundary here: platform errors show their message, anything else is
// logged with a reference shown to the user.
package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// Request is one command as typed in a chat.
type Request struct {
	Actor platform.Actor
	// Platform is where the command came from: "console", "slack",
	// "discord".
	Platform string
	// Channel is the chat channel the command was typed in; progress of a
	// request created here is told in this channel.
	Channel string
	// Text is everything after "/idp".
	Text string
	// Interactive is true when the adapter can fill in a Form or ask for
	// confirmation; without it, create needs key=value pairs.
	Interactive bool
	// IdempotencyKey identifies the delivery (a Slack trigger, a Discord
	// interaction) and its actor, as built by platform.IdempotencyKey, so
	// that a redelivered create does not create twice.
	IdempotencyKey string
}

// Options configures a Router.
type Options struct {
	Logger *slog.Logger
	// Now is the clock for relative times ("3m ago"); time.Now when nil.
	Now func() time.Time
	// Location is the time zone times are shown in; UTC when nil.
	Location *time.Location
	// Tickets records support tickets (nil: /idp support says it is not
	// set up here).
	Tickets TicketStore
	// Metrics counts support tickets (nil: not counted).
	Metrics SupportMetrics
	// SupportCategories are the categories /idp support accepts (nil:
	// DefaultSupportCategories).
	SupportCategories []string
	// Verbs are more commands, from other packages (surveys, digests).
	// A verb may not reuse a built-in verb's name.
	Verbs []Verb
	// Survey finds the open survey a home shows (nil: homes show none).
	Survey HomeSurvey
}

// Role says who a verb is for, so that help shows each person only the
// verbs they may run. The verbs check permissions themselves.
type Role int

// Roles of verbs.
const (
	// Everyone may run the verb.
	Everyone Role = iota
	// Approvers (and admins) may run the verb.
	Approvers
	// Admins may run the verb.
	Admins
)

// Verb is a command another package adds to the router.
type Verb struct {
	// Name is the word after /idp ("survey").
	Name string
	// Usage, Help and Example are shown by /idp help, like the built-in
	// verbs': "survey start [channel]", one sentence, and a command line
	// without the leading /idp.
	Usage, Help, Example string
	// Role is who help shows the verb to.
	Role Role
	// Run runs the verb with the words after its name. It returns a
	// Reply, never an error.
	Run func(ctx context.Context, req Request, args []string) Reply
}

// Router runs commands against an Engine.
type Router struct {
	engine     *platform.Engine
	log        *slog.Logger
	now        func() time.Time
	loc        *time.Location
	tickets    TicketStore
	metrics    SupportMetrics
	categories []string
	extra      []Verb
	survey     HomeSurvey
	helps      sync.Map // Reply.Same → help Reply
}

// NewRouter returns a Router. It does no I/O.
func NewRouter(engine *platform.Engine, opts Options) *Router {
	r := &Router{engine: engine, log: opts.Logger, now: opts.Now, loc: opts.Location,
		tickets: opts.Tickets, metrics: opts.Metrics, categories: opts.SupportCategories, survey: opts.Survey}
	if r.categories == nil {
		r.categories = DefaultSupportCategories
	}
	for _, v := range opts.Verbs {
		if _, builtin := lookupVerb(v.Name); !builtin && v.Run != nil {
			r.extra = append(r.extra, v)
		}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.loc == nil {
		r.loc = time.UTC
	}
	return r
}

// verb is one command.
type verb struct {
	name    string
	usage   string
	help    string
	example string
	role    Role
	flags   []flagSpec
	run     func(r *Router, ctx context.Context, req Request, a args) Reply
	// extra runs a verb of another package with its raw words.
	extra func(ctx context.Context, req Request, args []string) Reply
}

// verbs lists every command in help order.
var verbs []verb

func init() {
	verbs = []verb{
		{name: "help", usage: "help [command]", help: "Show the commands, or one command in detail.",
			example: "help create", run: (*Router).help},
		{name: "catalog", usage: "catalog [type|service]", help: "List the services you can request, with their parameters and defaults.",
			example: "catalog database", run: (*Router).catalog},
		{name: "create", usage: "create <service> [key=value ...] [--dry-run]",
			help:    "Request a resource. Keys: name, team, environment and the service's parameters; missing ones take their defaults. --dry-run shows the plan (validation, each policy's verdict, quota, approvals) without creating anything.",
			example: "create postgresql-database name=orders-db team=payments size=medium",
			flags: []flagSpec{
				{name: "dry-run", aliases: []string{"n"}, help: "check only"},
				{name: "for-team", value: "T", help: "admins: request for team T (not self-service)", role: Admins},
			},
			run: (*Router).create},
		{name: "list", usage: "list [--team T] [--env E] [--state S] [--mine] [--all] [--pending] [--after #id|--before #id]",
			help:    "List your teams' resources, newest first, a page at a time; --all includes deleted ones.",
			example: "list --team payments --env production",
			flags: []flagSpec{
				{name: "team", value: "T", help: "only team T's resources"},
				{name: "env", aliases: []string{"environment"}, value: "E", help: "only environment E"},
				{name: "mine", help: "only the ones you requested"},
				{name: "all", aliases: []string{"a"}, help: "include deleted, rejected and expired ones"},
				{name: "state", value: "S", help: "only resources in state S (ready, failed, awaiting_approval, …)"},
				{name: "pending", help: "approvers: the requests waiting for your approval, oldest first, with their age"},
				{name: "after", value: "#id", help: "the page after resource #id (what Next runs)"},
				{name: "before", value: "#id", help: "the page before resource #id (what Previous runs)"},
			},
			run: (*Router).list},
		{name: "home", usage: "home", help: "Your resources, what waits for your approval and the catalog, with buttons.",
			example: "home", run: (*Router).home},
		{name: "status", usage: "status <name|#id>", help: "Show a resource: state, parameters, outputs and recent history.",
			example: "status orders-db", run: (*Router).status},
		{name: "delete", usage: "delete <name|#id> [--yes]", help: "Delete a resource and deprovision what it made (asks to confirm unless --yes).",
			example: "delete #12",
			flags:   []flagSpec{{name: "yes", aliases: []string{"y"}, help: "delete without asking to confirm"}},
			run:     (*Router).delete},
		{name: "update", usage: "update <name|#id> [key=value ...]",
			help:    "Change a ready resource's parameters; alone, shows the current values.",
			example: "update orders-db size=medium", run: (*Router).update},
		{name: "extend", usage: "extend <name|#id> <duration>", help: "Keep a resource with a TTL longer: move its expiry later, like 7d or 36h.",
			example: "extend scratch-db 7d", run: (*Router).extend},
		{name: "retry", usage: "retry <name|#id>", help: "Run again what failed a request: its provisioning, its update or its deletion (its team or an admin).",
			example: "retry orders-db", run: (*Router).retry},
		{name: "credentials", usage: "credentials <name|#id> [--rotate]", help: "Credentials are shown once, privately; --rotate issues new ones and revokes the old (its team or an admin).",
			example: "credentials orders-db --rotate",
			flags:   []flagSpec{{name: "rotate", help: "issue new credentials, sent privately, and revoke the old"}},
			run:     (*Router).credentials},
		{name: "audit", usage: "audit <name|#id> [--before N|--after N]", help: "Show a resource's history a page at a time, from the latest events back: who did what and when, policy verdicts and approvals.",
			example: "audit orders-db",
			flags: []flagSpec{
				{name: "before", value: "N", help: "the events before event N (what Older runs)"},
				{name: "after", value: "N", help: "the events after event N (what Newer runs)"},
			},
			run: (*Router).audit},
		{name: "support", usage: "support <category> <text>", help: "Ask the platform team for help; the ticket goes to their support channel.",
			example: "support access I cannot see the payments dashboards", run: (*Router).support},
		{name: "approve", usage: "approve <#id>", help: "Approve a request that awaits approval (approvers; never your own).",
			example: "approve #12", role: Approvers, run: (*Router).approve},
		{name: "forget", usage: "forget <name|#id> --reason <text>", help: "Remove the record of a resource that cannot be deprovisioned: its name is freed, the audit keeps the reason, the thread says what may be left.",
			example: "forget #12 --reason \"the server was decommissioned\"", role: Admins,
			flags: []flagSpec{{name: "reason", value: "<text>", help: "why it cannot be deprovisioned (required)"}},
			run:   (*Router).forget},
		{name: "reject", usage: "reject <#id> <reason>", help: "Reject a request that awaits approval, with a reason the requester reads.",
			example: "reject #12 too large for staging; use medium", role: Approvers, run: (*Router).reject},
	}
}

// all returns the built-in verbs and the added ones, in help order.
func (r *Router) all() []verb {
	out := slices.Clone(verbs)
	for _, v := range r.extra {
		out = append(out, extraVerb(v))
	}
	return out
}

// extraVerb is a verb registered with the router, as a verb.
func extraVerb(v Verb) verb {
	return verb{name: v.Name, usage: v.Usage, help: v.Help, example: v.Example, role: v.Role, extra: v.Run}
}

func (r *Router) verbNames() []string {
	var out []string
	for _, v := range r.all() {
		out = append(out, v.name)
	}
	return out
}

func lookupVerb(name string) (verb, bool) {
	for i := range verbs {
		if verbs[i].name == name {
			return verbs[i], true
		}
	}
	return verb{}, false
}

// lookup returns the verb called name, built-in or added.
func (r *Router) lookup(name string) (verb, bool) {
	if v, ok := lookupVerb(name); ok {
		return v, true
	}
	for _, v := range r.extra {
		if v.Name == name {
			return extraVerb(v), true
		}
	}
	return verb{}, false
}

// may reports whether help shows something of role to actor.
func (r *Router) may(actor platform.Actor, role Role) bool {
	org := r.engine.Org()
	switch role {
	case Approvers:
		return org.IsApprover(actor)
	case Admins:
		return org.IsAdmin(actor)
	}
	return true
}

// commandWords splits a command's text into words, without a leading
// "/idp", and names its verb: the first word in lower case, "help" for
// help's aliases ("" when there are no words).
func commandWords(text string) (words []string, name string, err error) {
	words, err = split(text)
	if err != nil {
		return nil, "", err
	}
	if len(words) > 0 && strings.EqualFold(words[0], "/idp") {
		words = words[1:]
	}
	if len(words) == 0 {
		return words, "", nil
	}
	name = strings.ToLower(words[0])
	switch name {
	case "-h", "--help", "?":
		name = "help"
	}
	return words, name, nil
}

// Handle runs one command and returns the reply. It never panics and never
// returns an error: every problem is a Reply that says what is wrong.
func (r *Router) Handle(ctx context.Context, req Request) (reply Reply) {
	defer func() {
		if p := recover(); p != nil {
			reply = r.fail(ctx, fmt.Errorf("panic handling %q: %v\n%s", truncate(req.Text, 200), p, debug.Stack()))
		}
	}()
	words, name, err := commandWords(req.Text)
	if err != nil {
		return r.fail(ctx, err)
	}
	if len(words) == 0 {
		return r.shortHelp(req)
	}
	v, ok := r.lookup(name)
	if !ok {
		return r.fail(ctx, r.unknownVerb(words[0]))
	}
	if v.extra != nil {
		// "--" ends options, as for built-in verbs: the words after it are
		// passed as they are.
		args := words[1:]
		if i := slices.Index(args, "--"); i >= 0 {
			args = append(slices.Clone(args[:i]), args[i+1:]...)
		}
		return v.extra(ctx, req, args)
	}
	a, err := parseArgs(v.name, words[1:], v.flags)
	if err != nil {
		return r.fail(ctx, err)
	}
	return v.run(r, ctx, req, a)
}

func (r *Router) unknownVerb(word string) error {
	msg := fmt.Sprintf("Unknown command %s.", quoteInput(word, 32))
	if c := platform.Closest(word, r.verbNames()); c != "" {
		msg += fmt.Sprintf(" Did you mean %s?", c)
	} else {
		msg += " Commands: " + strings.Join(r.verbNames(), ", ") + "."
	}
	return platform.Errorf(platform.Invalid, "%s See /idp help.", msg)
}

// fail is the router's error boundary (ErrorReply).
func (r *Router) fail(ctx context.Context, err error) Reply { return ErrorReply(ctx, r.log, err) }

// ErrorReply is the error boundary of every verb, the router's and those
// other packages add: it turns err into the Reply a person sees. Internal
// errors (and any error that is not a platform.Error) are logged to log
// with a reference and shown only as "Something went wrong (ref: …)".
func ErrorReply(ctx context.Context, log *slog.Logger, err error) Reply {
	reply := Reply{Err: err, Ephemeral: true, Errors: platform.ErrorFields(err)}
	if platform.ErrorCode(err) == platform.Internal {
		reply.ErrRef = NewRef()
		reply.Title = fmt.Sprintf("Something went wrong (ref: %s)", reply.ErrRef)
		reply.Errors = nil
		log.ErrorContext(ctx, "command failed", "ref", reply.ErrRef, "err", err)
		return reply
	}
	reply.Title = platform.ErrorMessage(err)
	return reply
}

// NewRef returns a random reference for an internal error, 8 hex digits,
// shown to the person and logged with the error.
func NewRef() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func invalidf(format string, a ...any) error { return platform.Errorf(platform.Invalid, format, a...) }

// shortHelp answers a command with nothing in it: a few lines naming the
// commands the person may run and where to read more.
func (r *Router) shortHelp(req Request) Reply {
	var names []string
	for _, v := range r.all() {
		if r.may(req.Actor, v.role) {
			names = append(names, v.name)
		}
	}
	return Reply{
		Title:     "idpbot: request infrastructure from chat. Commands: " + strings.Join(names, ", ") + ".",
		Sections:  []Section{{Text: "Start with /idp catalog. /idp help describes every command; /idp help <command> explains one."}},
		Ephemeral: true,
	}
}

// optionsText lists a command's options for its detailed help, each with
// its other spellings: " Options: --yes or -y: delete without asking to
// confirm."
func optionsText(actor platform.Actor, flags []flagSpec, may func(platform.Actor, Role) bool) string {
	var parts []string
	for _, f := range flags {
		if f.role != Everyone && !may(actor, f.role) || f.help == "" {
			continue
		}
		names := []string{"--" + f.name}
		for _, a := range f.aliases {
			if len(a) == 1 {
				names = append(names, "-"+a)
			} else {
				names = append(names, "--"+a)
			}
		}
		spelled := strings.Join(names, " or ")
		if f.value != "" {
			spelled += " " + f.value
		}
		parts = append(parts, spelled+": "+f.help)
	}
	if len(parts) == 0 {
		return ""
	}
	return " Options: " + strings.Join(parts, "; ") + "."
}

// helpKey is what a help depends on: the topic and which roles the actor
// has.
func (r *Router) helpKey(actor platform.Actor, topic string) string {
	return fmt.Sprintf("help/%t/%t/%s", r.may(actor, Approvers), r.may(actor, Admins), topic)
}

// Kept returns the reply to req when the router keeps it already (a help
// shown before to someone with the same roles), without running anything:
// an adapter can acknowledge it at once. It returns false for any other
// command; Handle answers those.
func (r *Router) Kept(req Request) (Reply, bool) {
	words, name, err := commandWords(req.Text)
	if err != nil || name != "help" || len(words) > 2 {
		return Reply{}, false
	}
	topic := ""
	if len(words) == 2 {
		if strings.HasPrefix(words[1], "-") {
			return Reply{}, false // an option: Handle tells what it means
		}
		topic = strings.ToLower(words[1])
	}
	rep, ok := r.helps.Load(r.helpKey(req.Actor, topic))
	if !ok {
		return Reply{}, false
	}
	return rep.(Reply), true
}

// help lists the commands the person may run, or explains one.
func (r *Router) help(ctx context.Context, req Request, a args) Reply {
	if len(a.pos) > 1 {
		return r.fail(ctx, invalidf("help takes at most one command, like /idp help create."))
	}
	// The help depends only on the topic and on which roles the actor
	// has: it is built once for each and shared.
	topic := ""
	if len(a.pos) == 1 {
		topic = strings.ToLower(a.pos[0])
	}
	same := r.helpKey(req.Actor, topic)
	if rep, ok := r.helps.Load(same); ok {
		return rep.(Reply)
	}
	rep := r.buildHelp(ctx, req, a)
	if rep.Err != nil {
		return rep
	}
	rep.Same = same
	rep.Sections = slices.Clip(rep.Sections) // an append to a copy must not write into the shared array
	r.helps.Store(same, rep)
	return rep
}

func (r *Router) buildHelp(ctx context.Context, req Request, a args) Reply {
	var list []verb
	for _, v := range r.all() {
		if r.may(req.Actor, v.role) {
			list = append(list, v)
		}
	}
	title := "idpbot: request infrastructure from chat. Commands:"
	if len(a.pos) == 1 {
		v, ok := r.lookup(strings.ToLower(a.pos[0]))
		if !ok {
			return r.fail(ctx, r.unknownVerb(a.pos[0]))
		}
		list, title = []verb{v}, "/idp "+v.usage
	}
	reply := Reply{Title: title, Ephemeral: true}
	for _, v := range list {
		text := v.help
		if len(list) == 1 {
			text += optionsText(req.Actor, v.flags, r.may)
		} else {
			for _, f := range v.flags {
				if f.role != Everyone && r.may(req.Actor, f.role) && f.help != "" {
					text += fmt.Sprintf(" --%s %s: %s.", f.name, f.value, f.help)
				}
			}
		}
		if len(list) == 1 && !r.may(req.Actor, v.role) {
			text += " (Not for you: " + map[Role]string{Approvers: "approvers", Admins: "platform admins"}[v.role] + " only.)"
		}
		if len(list) == 1 {
			// the title is the usage already
			reply.Sections = append(reply.Sections, Section{Text: text, Fields: []KV{{Key: "Example", Value: "/idp " + v.example}}})
			continue
		}
		// One section per command, its example a line of it: the list
		// stays within a Slack message's 50 blocks with room for the
		// commands a platform team adds, and is a smaller acknowledgement.
		reply.Sections = append(reply.Sections, Section{Heading: "/idp " + v.usage, Text: text + "\nExample: /idp " + v.example})
	}
	if len(list) > 1 {
		reply.Sections = append(reply.Sections, Section{Heading: "Tips", Text: "Start with /idp catalog to see what you can request. Quote values that contain spaces, like key=\"two words\"."})
	}
	return reply
}
