package commands

import (
	"context"

	"github.com/idpbot/idpbot/internal/platform"
)

// liveSection reads the live state of res for status: its health, summary,
// each check as recorded → live, and when it was read; or, when it cannot
// be read, why (not available for its driver, or could not read), which is
// a condition of the resource and not an error of the command.
func (r *Router) liveSection(ctx context.Context, actor platform.Actor, res *platform.Resource) Section {
	st, err := r.engine.LiveStatus(ctx, actor, res)
	if err != nil {
		if platform.ErrorCode(err) == platform.Internal {
			r.log.WarnContext(ctx, "read live status", "request_id", res.ID, "err", err)
			return Section{Heading: "Live", Text: "could not read the live state; try again later"}
		}
		return Section{Heading: "Live", Text: platform.ErrorMessage(err)}
	}
	return Section{Heading: "Live", Fields: r.liveFields(st)}
}

// liveFields renders a live status as fields: Health, Summary, a field per
// check ("recorded → live", marked when they differ) and Read at.
func (r *Router) liveFields(st platform.LiveStatus) []KV {
	fields := []KV{{Key: "Health", Value: healthText(st.Health)}}
	if st.Summary != "" {
		fields = append(fields, KV{Key: "Summary", Value: st.Summary})
	}
	for _, c := range st.Checks {
		fields = append(fields, KV{Key: c.Name, Value: CheckText(c)})
	}
	return append(fields, KV{Key: "Read at", Value: r.when(st.ReadAt)})
}

// healthText is a health as shown to people: drifted ones say so.
func healthText(h platform.Health) string {
	if h.Drifted() {
		return string(h) + " (does not match the record)"
	}
	return string(h)
}

// CheckText renders one live check: "recorded → live", followed by
// "(differs)" when they do not match; just the live value when nothing
// was recorded.
func CheckText(c platform.LiveCheck) string {
	s := c.Live
	if c.Recorded != "" {
		s = c.Recorded + " → " + c.Live
	}
	if s == "" {
		s = "-"
	}
	if c.OK {
		return s + " (ok)"
	}
	return s + " (differs)"
}
