package commands

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/idpbot/idpbot/internal/platform"
)

// StatsReply renders the platform's health (/idp stats): the numbers the
// original design measures an internal developer platform by.
func StatsReply(st platform.Stats, window string) Reply {
	na := "no data yet"
	self := na
	if pct, ok := st.SelfServiceRate(); ok {
		self = fmt.Sprintf("%.0f%% (%d of %d requests)", pct, st.SelfService, st.Requests)
	}
	provision := na
	if st.Ready > 0 {
		provision = fmt.Sprintf("avg %s · p90 %s", statDuration(st.AvgProvision), statDuration(st.P90Provision))
	}
	avail := na
	if pct, ok := st.Availability(); ok {
		avail = fmt.Sprintf("%.1f%% (%d of %d finished requests ready)", pct, st.Ready, st.Ready+st.Failed)
	}
	nps := "no survey closed yet"
	if st.HasNPS {
		nps = fmt.Sprintf("%+.0f", st.NPS)
	}
	return Reply{
		Title:     "Platform health, last " + window,
		Ephemeral: true,
		Sections: []Section{{Fields: []KV{
			{Key: "Self-service rate", Value: self},
			{Key: "Time to provision", Value: provision},
			{Key: "Availability", Value: avail},
			{Key: "Active resources", Value: fmt.Sprint(st.Active)},
			{Key: "Satisfaction (NPS)", Value: nps},
		}}},
	}
}

// statDuration is humanDuration with tenths below a second, where fast
// drivers land.
func statDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return humanDuration(d)
}

// StatsWindow is the window of /idp stats, like idp_self_service_rate's.
const StatsWindow = 30 * 24 * time.Hour

// StatsSource reads the platform's health since a time; *postgres.Store
// implements it.
type StatsSource interface {
	Stats(ctx context.Context, since time.Time) (platform.Stats, error)
}

// StatsVerb is /idp stats: the platform's health over the last
// StatsWindow, read from src, for everyone.
func StatsVerb(src StatsSource, log *slog.Logger) Verb {
	return Verb{Name: "stats", Usage: "stats", Example: "stats", Role: Everyone,
		Help: "The platform's health over the last 30 days: self-service rate, time to provision, availability, active resources, satisfaction.",
		Run: func(ctx context.Context, req Request, args []string) Reply {
			if len(args) > 0 {
				return ErrorReply(ctx, log, platform.Errorf(platform.Invalid, "stats takes no arguments: /idp stats"))
			}
			st, err := src.Stats(ctx, time.Now().Add(-StatsWindow))
			if err != nil {
				return ErrorReply(ctx, log, err)
			}
			return StatsReply(st, "30 days")
		}}
}
