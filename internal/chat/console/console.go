// Package console is the terminal chat adapter: the local way to use idpbot,
// and the harness end-to-end tests drive. It reads /idp commands line by
// line, prints replies as plain text, prompts for forms and confirmations
// when interactive, prints each request's progress as a thread under it, and
// when input ends waits for the requests it started to settle.
package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idpbot/idpbot/internal/chat/thread"
	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Platform is the name requests made here carry as their origin, and the
// name the notify jobs route this adapter's messages by.
const Platform = "console"

// maxLine is the longest input line read; longer ones are refused.
const maxLine = 1 << 20

// maxRounds bounds how often a form's rejected fields are asked again.
const maxRounds = 5

// Config is what a Console is built from.
type Config struct {
	Engine *platform.Engine
	In     io.Reader
	Out    io.Writer
	// Actor is who types at this console.
	Actor platform.Actor
	// Interactive enables prompts (forms, confirmations); without it, as
	// when input is a pipe, nothing is ever asked.
	Interactive bool
	// Wait bounds how long Run waits at end of input for the requests this
	// session started (default 2m).
	Wait time.Duration
	// Delivered says that the notify jobs deliver this console's
	// notifications to it: at end of input Run then also waits until every
	// thread line and the connection details were printed.
	Delivered bool
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Console is a terminal chat session. It is also the thread.Transport of
// platform "console": it prints the stories of requests made at the
// console, and posts to channels (approval cards, support tickets) headed
// by the channel.
type Console struct {
	cfg    Config
	router *commands.Router // set by Run, before it reads a line
	lines  chan input

	mu      sync.Mutex // guards out and everything below
	prompt  string     // the partial line shown (a prompt), if any
	printed map[int64]int64
	phase   map[int64]platform.State // the last state each resource's story printed
	secrets map[string]bool          // keys of the connection details printed (rotated ones have another)
	waiting map[int64]bool           // secrets of other users announced as waiting
	tracked []*tracked
	holding int      // > 0 while a reply is being produced
	held    []string // notifications held back until that reply is printed
	posts   int      // posts made, for their references
}

var _ thread.Transport = (*Console)(nil)

// input is one line read, or a marker for a line that was too long.
type input struct {
	text    string
	tooLong bool
}

type tracked struct {
	id       int64
	name     string
	deleting bool
}

// New returns a Console. It does no I/O.
func New(cfg Config) *Console {
	if cfg.Wait <= 0 {
		cfg.Wait = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Console{cfg: cfg, printed: map[int64]int64{}, phase: map[int64]platform.State{}, secrets: map[string]bool{}, waiting: map[int64]bool{}}
}

// Run reads commands until input ends, "exit" or "quit", or ctx is done;
// then it waits (up to Config.Wait) for the requests it created and the
// deletions it started to settle, prints a summary line for each and
// returns nil. The goroutine reading input may stay blocked in a Read that
// cannot be interrupted until the input is closed. router answers the
// commands typed.
func (c *Console) Run(ctx context.Context, router *commands.Router) error {
	c.router = router
	c.lines = make(chan input)
	go c.read(ctx)
	if c.cfg.Interactive {
		teams := c.cfg.Engine.Org().TeamsOf(c.cfg.Actor)
		who := c.cfg.Actor.Display()
		if len(teams) > 0 {
			who += " (team " + strings.Join(teams, ", ") + ")"
		} else {
			who += " (in no team yet)"
		}
		c.println(fmt.Sprintf("idpbot console: you are %s. Type help for the commands, exit or Ctrl-D to leave.", who))
	}
	for {
		line, ok := c.ask(ctx, "idp> ")
		if !ok {
			break
		}
		text := withoutPrefix(strings.TrimSpace(line))
		if t := strings.ToLower(text); t == "exit" || t == "quit" {
			break
		}
		// An empty line is a command too: the router answers it with the
		// short help.
		c.handle(ctx, text)
	}
	c.wait(ctx)
	return nil
}

// withoutPrefix removes a leading "/idp" or "idp" word: at the console a
// command may be typed as in a chat, or without the slash.
func withoutPrefix(text string) string {
	for _, p := range []string{"/idp", "idp"} {
		if len(text) >= len(p) && strings.EqualFold(text[:len(p)], p) {
			if rest := text[len(p):]; rest == "" || rest[0] == ' ' || rest[0] == '\t' {
				return strings.TrimSpace(rest)
			}
		}
	}
	return text
}

// read sends input lines to c.lines and closes it at end of input.
func (c *Console) read(ctx context.Context) {
	defer close(c.lines)
	br := bufio.NewReaderSize(c.cfg.In, 64<<10)
	for {
		var (
			line    []byte
			tooLong bool
		)
		for {
			chunk, isPrefix, err := br.ReadLine()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					c.cfg.Logger.WarnContext(ctx, "read console input", "err", err)
				}
				if len(line) > 0 || tooLong {
					c.send(ctx, input{text: string(line), tooLong: tooLong})
				}
				return
			}
			if len(line)+len(chunk) > maxLine {
				tooLong = true
			} else {
				line = append(line, chunk...)
			}
			if !isPrefix {
				break
			}
		}
		if !c.send(ctx, input{text: string(line), tooLong: tooLong}) {
			return
		}
	}
}

func (c *Console) send(ctx context.Context, line input) bool {
	select {
	case c.lines <- line:
		return true
	case <-ctx.Done():
		return false
	}
}

// ask shows prompt (when interactive) and returns the next input line;
// false at end of input or when ctx is done.
func (c *Console) ask(ctx context.Context, prompt string) (string, bool) {
	for {
		if c.cfg.Interactive {
			c.mu.Lock()
			c.prompt = prompt
			_, _ = io.WriteString(c.cfg.Out, prompt)
			c.mu.Unlock()
		}
		var (
			line input
			ok   bool
		)
		select {
		case line, ok = <-c.lines:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if c.prompt != "" && !ok {
			_, _ = io.WriteString(c.cfg.Out, "\n")
		}
		c.prompt = ""
		c.mu.Unlock()
		if line.tooLong {
			c.println(fmt.Sprintf("That line is longer than %d bytes; it was ignored.", maxLine))
			continue
		}
		return line.text, ok
	}
}

// println writes text (which may span lines) and a newline, keeping any
// prompt shown intact below it.
func (c *Console) println(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeLocked(text)
}

func (c *Console) writeLocked(text string) {
	var b strings.Builder
	if c.prompt != "" {
		b.WriteString("\n") // leave the prompt's line as it is
	}
	b.WriteString(strings.TrimSuffix(text, "\n"))
	b.WriteString("\n")
	b.WriteString(c.prompt)
	_, _ = io.WriteString(c.cfg.Out, b.String())
}

// handle runs one command and acts on its reply.
func (c *Console) handle(ctx context.Context, text string) {
	c.hold()
	reply := c.router.Handle(ctx, commands.Request{
		Actor:       c.cfg.Actor,
		Platform:    Platform,
		Channel:     Platform,
		Text:        text,
		Interactive: c.cfg.Interactive,
	})
	c.show(ctx, reply)
}

// hold holds notifications back until release, so that a request's thread
// is printed under the reply that announces the request.
func (c *Console) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding++
}

// release prints the notifications held back, once nobody holds them.
func (c *Console) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding--
	if c.holding > 0 {
		return
	}
	for _, l := range c.held {
		c.writeLocked(l)
	}
	c.held = nil
}

// notifyLocked prints a notification line, or holds it back; c.mu is held.
func (c *Console) notifyLocked(line string) {
	if c.holding > 0 {
		c.held = append(c.held, line)
		return
	}
	c.writeLocked(line)
}

// show prints a reply, fills in its form or asks its confirmation. It is
// called with notifications held, and releases them.
func (c *Console) show(ctx context.Context, reply commands.Reply) {
	if c.cfg.Interactive && reply.Form != nil {
		c.release()
		c.fill(ctx, reply.Form)
		return
	}
	if c.cfg.Interactive && reply.Confirm != nil {
		c.release()
		answer, _ := c.ask(ctx, reply.Confirm.Prompt+" [y/N] ")
		switch strings.ToLower(strings.TrimSpace(answer)) {
		case "y", "yes":
			c.handle(ctx, reply.Confirm.Yes)
		default:
			c.println("Cancelled; nothing was changed.")
		}
		return
	}
	text := reply.Text()
	switch {
	case reply.Form != nil:
		text = missingFields(reply.Form)
	case reply.Confirm != nil:
		text += "Not confirmed: add --yes to run it without asking."
	}
	c.println(text)
	if r := reply.Resource; r != nil && reply.Err == nil && r.Requester.ID == c.cfg.Actor.ID {
		// Only this user's own requests are waited for: their story is
		// told here; another's (one approved here) is told at theirs.
		c.track(r)
	}
	c.release()
}

func missingFields(f *commands.Form) string {
	var missing []string
	for _, fd := range f.Fields {
		if fd.Required && fd.Default == nil {
			missing = append(missing, fd.Name)
		}
	}
	return fmt.Sprintf("Missing required fields for %s: %s. Give them as key=value pairs, like /idp create %s name=orders-db.",
		f.Service.Name, strings.Join(missing, ", "), f.Service.Name)
}

// fill prompts each field of the form, then submits; fields the submission
// rejects are asked again.
func (c *Console) fill(ctx context.Context, form *commands.Form) {
	what := "New " + form.Service.Title
	if form.DryRun {
		what = "Dry run: " + what
	}
	c.println(what + ". Press Enter to take the [default]; Ctrl-D cancels.")
	values := map[string]string{}
	ask := form.Fields
	for round := 1; ; round++ {
		for i := 0; i < len(ask); i++ {
			f := ask[i]
			v, ok := c.askField(ctx, form, f)
			if !ok {
				c.println("Cancelled; nothing was requested.")
				return
			}
			if v == "" && f.Default != nil {
				v = platform.FormatValue(f.Default) // the default shown, which may be the policies'
			}
			values[f.Name] = v
			if round == 1 && f.Name == "environment" {
				// The parameters that follow default to what the
				// policies allow in the chosen environment.
				fields, notes := c.router.PolicyDefaults(ctx, c.cfg.Actor, form, values)
				if len(fields) == len(ask) {
					ask = fields
				}
				for _, n := range notes {
					c.println(n)
				}
			}
		}
		c.hold()
		reply := c.router.Submit(ctx, commands.Submission{
			Actor:    c.cfg.Actor,
			Platform: Platform,
			Channel:  Platform,
			Service:  form.Service.Name,
			Values:   values,
			DryRun:   form.DryRun,
		})
		c.show(ctx, reply)
		ask = nil
		for _, e := range reply.Errors {
			if f, ok := form.Field(e.Field); ok && !slices.ContainsFunc(ask, func(a platform.Field) bool { return a.Name == f.Name }) {
				ask = append(ask, f)
			}
		}
		if reply.Err == nil || len(ask) == 0 {
			return
		}
		if round == maxRounds {
			c.println("Giving up after " + fmt.Sprint(maxRounds) + " tries; nothing was requested.")
			return
		}
		c.println("Please correct: " + names(ask) + ".")
	}
}

func names(fs []platform.Field) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return strings.Join(out, ", ")
}

// askField prompts one field until the answer passes Form.Check. An empty
// answer takes the default.
func (c *Console) askField(ctx context.Context, form *commands.Form, f platform.Field) (string, bool) {
	hint := f.Constraint()
	if f.Kind == platform.KindString && f.Description != "" {
		hint = f.Description
	}
	prompt := fmt.Sprintf("%s (%s)", f.Name, hint)
	if f.Default != nil {
		prompt += fmt.Sprintf(" [%s]", platform.FormatValue(f.Default))
	}
	prompt += ": "
	for {
		answer, ok := c.ask(ctx, prompt)
		if !ok {
			return "", false
		}
		if err := form.Check(f.Name, answer); err != nil {
			c.println(fmt.Sprintf("  %s %s", f.Name, err))
			continue
		}
		return strings.TrimSpace(answer), true
	}
}

// track remembers a request this session created, or a deletion it started.
func (c *Console) track(r *platform.Resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	deleting := r.State == platform.Deleting
	for _, t := range c.tracked {
		if t.id == r.ID {
			t.deleting = t.deleting || deleting
			return
		}
	}
	c.tracked = append(c.tracked, &tracked{id: r.ID, name: r.Name, deleting: deleting})
}

// wait polls the engine until every tracked request has settled (and its
// thread was printed, when notifications reach this console), bounded by
// Config.Wait, then prints a summary line for each.
func (c *Console) wait(ctx context.Context) {
	c.mu.Lock()
	todo := slices.Clone(c.tracked)
	c.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Wait)
	defer cancel()
	start := c.cfg.Now()
	latest := make(map[int64]*platform.Resource, len(todo))
	announced := false
	delay := 10 * time.Millisecond
	for {
		done := true
		for _, t := range todo {
			r, err := c.cfg.Engine.Find(ctx, c.cfg.Actor, fmt.Sprintf("#%d", t.id))
			if err != nil {
				if ctx.Err() == nil {
					c.cfg.Logger.WarnContext(ctx, "poll request", "request_id", t.id, "err", err)
				}
				done = false
				continue
			}
			latest[t.id] = r
			if !settled(t, r.State) || !c.caughtUp(ctx, r) {
				done = false
			}
		}
		if done {
			break
		}
		if !announced {
			announced = true
			c.println(fmt.Sprintf("Input ended; waiting up to %s for %s to finish…", c.cfg.Wait, plural(len(todo), "request")))
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
			delay = min(delay*2, 500*time.Millisecond)
			continue
		}
		break
	}
	waited := c.cfg.Now().Sub(start).Round(time.Second)
	for _, t := range todo {
		c.println(summary(t, latest[t.id], waited))
	}
}

func settled(t *tracked, s platform.State) bool {
	if t.deleting {
		return s == platform.Deleted || s == platform.Failed
	}
	return s.Settled()
}

// caughtUp reports whether every event of r was printed here, or whether
// notifications are not delivered to this console at all.
func (c *Console) caughtUp(ctx context.Context, r *platform.Resource) bool {
	if !c.cfg.Delivered || r.Origin.Platform != Platform {
		return true
	}
	evs, err := c.cfg.Engine.Events(ctx, c.cfg.Actor, r)
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		if _, shown := thread.LineOf(r, ev); !shown && ev.Kind != platform.EventSecret {
			continue
		}
		if ev.Kind == platform.EventSecret {
			// Delivery erases the sealed details, wherever they went
			// (possibly an earlier session).
			if ev.Sealed != nil {
				return false
			}
			continue
		}
		if c.printed[r.ID] < ev.ID {
			return false
		}
	}
	return true
}

func summary(t *tracked, r *platform.Resource, waited time.Duration) string {
	if r == nil {
		return fmt.Sprintf("#%d %s: could not be read; check with /idp status #%d.", t.id, t.name, t.id)
	}
	head := fmt.Sprintf("%s %s", r.Ref(), r.Name)
	if !settled(t, r.State) {
		return fmt.Sprintf("%s: still %s after %s; it continues in the background. Check with /idp status %s.", head, r.State, waited, r.Ref())
	}
	switch r.State {
	case platform.Ready:
		return fmt.Sprintf("%s: ready (provisioned in %s).", head, r.ProvisionDuration().Round(time.Millisecond))
	case platform.Failed, platform.Rejected, platform.Expired:
		switch {
		case strings.HasPrefix(r.Reason, string(r.State)+" "):
			return fmt.Sprintf("%s: %s", head, r.Reason) // "rejected by approver: …"
		case r.Reason != "":
			return fmt.Sprintf("%s: %s: %s", head, r.State, r.Reason)
		}
	case platform.AwaitingApproval:
		return fmt.Sprintf("%s: awaiting approval.", head)
	}
	return fmt.Sprintf("%s: %s.", head, r.State)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Platform implements thread.Transport.
func (c *Console) Platform() string { return Platform }

// directChannel is the console's one channel: the terminal, where a
// request's story and the posts it may see are printed.
const directChannel = "console"

// DirectChannel implements thread.Transport: every story a console tells
// goes to its terminal. (Connection details only print for the person at
// the terminal: see Post.)
func (c *Console) DirectChannel(context.Context, platform.Actor) (string, error) {
	return directChannel, nil
}

// StartThread implements thread.Transport: a terminal has no threads.
func (c *Console) StartThread(_ context.Context, th platform.Thread, _ *platform.Resource, _ bool) (platform.Thread, error) {
	th.ThreadRef = th.Channel
	return th, nil
}

// Find implements thread.Transport: the console remembers what it printed
// itself.
func (c *Console) Find(context.Context, string, string, string) (string, error) { return "", nil }

// Post implements thread.Transport. A root message prints nothing (every
// thread line names its request); connection details print for the
// requester only (printSecret); a post prints headed by its channel,
// "[#channel] ", its lines indented, and returns a reference for replies.
func (c *Console) Post(_ context.Context, channel string, m thread.Message, key string) (string, error) {
	switch m.Kind {
	case thread.Root:
		return fmt.Sprintf("request-%d", m.Resource.ID), nil
	case thread.Secret:
		return fmt.Sprintf("secret-%d", m.Resource.ID), c.printSecret(m.Resource, m.Secrets, key)
	}
	if !c.sees(channel) {
		return "", notHere{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.posts++
	ref := fmt.Sprintf("post-%d", c.posts)
	c.notifyLocked(postText("["+channelLabel(channel)+"] ", m.Reply))
	return ref, nil
}

// sees reports whether the person at this console sees channel, as they
// would in a chat: the approvals and support channels are for approvers
// and admins; the console's own channel (surveys, digests) is for
// everyone.
func (c *Console) sees(channel string) bool {
	switch strings.TrimPrefix(channel, "#") {
	case "approvals", "support":
		return c.cfg.Engine != nil && c.cfg.Engine.Org().IsApprover(c.cfg.Actor)
	}
	return true
}

// Reply implements thread.Transport. An event of a request's story prints
// indented and timestamped: "  13:02:11  #12 orders-db  provisioning
// creating role …"; an event already printed (a redelivery) is skipped. A
// post prints as a reply to the post it answers.
func (c *Console) Reply(_ context.Context, th platform.Thread, m thread.Message, _ string) (string, error) {
	switch m.Kind {
	case thread.Event:
		for _, part := range m.Parts() {
			if part.Kind == thread.Note {
				c.printNote(part)
				continue
			}
			c.printEvent(part.Resource, part.Event, part.Actions)
		}
		return "", nil
	case thread.Note:
		c.printNote(m)
		return "", nil
	}
	if !c.sees(th.Channel) {
		return "", notHere{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notifyLocked(postText("["+channelLabel(th.Channel)+" › "+th.ThreadRef+"] ", m.Reply))
	return "", nil
}

// printNote prints a note of the bot's own about a request.
func (c *Console) printNote(m thread.Message) {
	_, text := thread.NoteOf(m.Note, m.Resource.Requester.Display())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notifyLocked(fmt.Sprintf("  %s %s %s  %s", thread.LockStyle.Emoji, m.Resource.Ref(), m.Resource.Name, text))
}

// Edit implements thread.Transport: a terminal cannot change what it
// printed, so an edited post is a line of its own; a root message, which
// printed nothing, stays silent.
func (c *Console) Edit(_ context.Context, channel, ref string, m thread.Message) error {
	if m.Kind == thread.Root || !c.sees(channel) {
		// The approval card's decision is news to approvers only, and
		// the person who decided knows it.
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notifyLocked(postText("["+channelLabel(channel)+" › "+ref+", edited] ", m.Reply))
	return nil
}

// printEvent prints one event of r's story.
func (c *Console) printEvent(r *platform.Resource, ev platform.Event, actions []commands.Action) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.ID != 0 && ev.ID <= c.printed[r.ID] {
		return
	}
	c.printed[r.ID] = ev.ID
	at := ev.At
	if at.IsZero() {
		at = c.cfg.Now()
	}
	label, msg := string(ev.Kind), ev.Message
	switch ev.Kind {
	case platform.EventTransition:
		label = string(ev.To)
		c.phase[r.ID] = ev.To
		if ev.To == platform.Failed && r.Reason != "" && msg == "" {
			msg = r.Reason
		}
	case platform.EventStep:
		// A step belongs to the operation under way when it was taken: the
		// last transition printed, or, for a story joined midway, the
		// resource's state now.
		phase, ok := c.phase[r.ID]
		if !ok {
			phase = r.State
		}
		switch phase {
		case platform.Deleting, platform.Deleted:
			label = string(platform.Deleting)
		case platform.Updating:
			label = string(platform.Updating)
		default:
			label = string(platform.Provisioning)
		}
	case platform.EventVerdict:
		label = "policy"
	}
	line := strings.TrimRight(fmt.Sprintf("  %s  %s %s  %s  %s", at.Local().Format("15:04:05"), r.Ref(), r.Name, label, oneLine(msg)), " ")
	if len(actions) > 0 {
		line += "\n   " + actionHints(actions)
	}
	c.notifyLocked(line)
}

// actionHints renders buttons as the commands that do the same:
// "[Approve] /idp approve 12  [Reject] /idp reject 12 <reason>".
func actionHints(actions []commands.Action) string {
	parts := make([]string, len(actions))
	for i, a := range actions {
		cmd := "/idp " + a.Command
		if a.Input != "" {
			cmd += " <" + strings.ToLower(a.Input) + ">"
		}
		parts[i] = " [" + a.Label + "] " + cmd
	}
	return strings.Join(parts, " ")
}

func channelLabel(channel string) string {
	if strings.HasPrefix(channel, "#") {
		return channel
	}
	return "#" + channel
}

// postText renders a post: the header and the reply's text, indented.
func postText(header string, reply commands.Reply) string {
	lines := strings.Split(strings.TrimRight(reply.Text(), "\n"), "\n")
	for i, l := range lines {
		if i > 0 && l != "" {
			lines[i] = "  " + l
		}
	}
	return header + strings.Join(lines, "\n")
}

// notHere is the error of a message for someone else (connection details
// of another requester, a post in a channel this console's user does not
// see): the job retries it later, at a console of someone it is for.
type notHere struct{}

func (notHere) Error() string { return "the message is for someone not at this console" }

// DeferFor implements jobs.Deferred.
func (notHere) DeferFor() time.Duration { return 5 * time.Second }

// printSecret prints connection details for the requester only; at a
// console that is the person at the terminal. The same details (key)
// redelivered print once; rotated ones print again.
func (c *Console) printSecret(r *platform.Resource, secrets map[string]string, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secrets[key] {
		return nil
	}
	who := r.Requester.Display()
	if r.Requester.ID != c.cfg.Actor.ID {
		// Only the requester may see them: they wait, sealed, for a console
		// of theirs (jobs.Deferred).
		if !c.waiting[r.ID] {
			c.waiting[r.ID] = true
			c.notifyLocked(fmt.Sprintf("  🔒 connection details of %s %s wait for %s (they appear at %s's console).", r.Ref(), r.Name, who, who))
		}
		return notHere{}
	}
	c.secrets[key] = true
	values := thread.SecretOf(r, secrets).Values
	parts := make([]string, len(values))
	for i, kv := range values {
		parts[i] = kv.Key + "=" + oneLine(kv.Value)
	}
	c.notifyLocked(fmt.Sprintf("  🔒 only %s sees this (%s %s): %s", who, r.Ref(), r.Name, strings.Join(parts, "  ")))
	return nil
}

// oneLine keeps a message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
