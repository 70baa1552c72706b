package digest

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/idpbot/idpbot/internal/commands"
	"github.com/idpbot/idpbot/internal/platform"
)

// Usage of the command, for help.
const (
	Usage = "digest now [period]"
	Help  = "Admins: show the usage digest of the last period (default 7d; e.g. 24h, 30d, 2w) against the one before."
)

// MaxPeriod is the longest period "/idp digest now" accepts.
const MaxPeriod = 366 * 24 * time.Hour

// Commands is the digest verb of /idp, for the commands Router to call
// with the words after the verb.
type Commands struct {
	svc *Service
	org *platform.Org
	log *slog.Logger
}

// NewCommands returns the digest commands; org tells who is an admin. It
// does no I/O.
func NewCommands(svc *Service, org *platform.Org, log *slog.Logger) *Commands {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if org == nil {
		org = &platform.Org{}
	}
	return &Commands{svc: svc, org: org, log: log.With("component", "digest")}
}

// Verb is the command digests add to the router, for admins.
func (c *Commands) Verb() commands.Verb {
	return commands.Verb{Name: "digest", Usage: Usage, Help: Help, Example: "digest now 7d", Role: commands.Admins, Run: c.Digest}
}

// Digest runs "/idp digest now [period]" ("now" may be left out); args are
// the words after "digest". Only admins may run it. The digest is the
// reply, in the channel it was asked in.
func (c *Commands) Digest(ctx context.Context, req commands.Request, args []string) commands.Reply {
	if !c.org.IsAdmin(req.Actor) {
		return c.fail(ctx, platform.Errorf(platform.Forbidden, "Only platform admins can ask for the usage digest."))
	}
	if len(args) > 0 && strings.EqualFold(args[0], "now") {
		args = args[1:]
	}
	if len(args) > 1 {
		return c.fail(ctx, platform.Errorf(platform.Invalid, "Usage: /idp %s", Usage))
	}
	d := c.svc.period
	if len(args) == 1 {
		var err error
		if d, err = ParsePeriod(args[0]); err != nil {
			return c.fail(ctx, err)
		}
	}
	dg, err := c.svc.Build(ctx, c.svc.now(), d)
	if err != nil {
		return c.fail(ctx, err)
	}
	return Reply(dg)
}

var periodPattern = regexp.MustCompile(`^(\d{1,4})([hdw])$`)

// ParsePeriod parses a period length as people type it: "24h", "7d",
// "2w"; from 1 hour to MaxPeriod.
func ParsePeriod(s string) (time.Duration, error) {
	m := periodPattern.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	bad := &platform.Error{Code: platform.Invalid,
		Message: fmt.Sprintf("%q is not a period: give hours, days or weeks, e.g. 24h, 7d, 2w (at most 366d).", shorten(s, 16)),
		Fields:  []platform.FieldError{{Field: "period", Message: "e.g. 24h, 7d, 2w"}}}
	if m == nil {
		return 0, bad
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	d := time.Duration(n) * unit
	if n == 0 || d > MaxPeriod {
		return 0, bad
	}
	return d, nil
}

// fail turns err into the Reply a person sees: a platform error's message,
// or for anything else "Something went wrong (ref: …)" with the chain
// logged under that reference.
func (c *Commands) fail(ctx context.Context, err error) commands.Reply {
	return commands.ErrorReply(ctx, c.log, err)
}
