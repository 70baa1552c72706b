package commands

import (
	"fmt"
	"time"
)

// when renders an absolute time with how long ago (or ahead) it is.
func (r *Router) when(t time.Time) string {
	abs := t.In(r.loc).Format("2006-01-02 15:04:05 MST")
	d := r.now().Sub(t)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%s (%s ago)", abs, humanDuration(d))
	case d <= -time.Second:
		return fmt.Sprintf("%s (in %s)", abs, humanDuration(-d))
	}
	return abs + " (just now)"
}

// humanDuration renders d briefly: "42s", "3m12s", "5h3m", "7d", "2d4h".
func humanDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Second:
		return "under a second"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m, s := int(d.Minutes()), int(d.Seconds())%60
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%02ds", m, s)
	case d < 48*time.Hour:
		h, m := int(d.Hours()), int(d.Minutes())%60
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%02dm", h, m)
	}
	days, h := int(d.Hours())/24, int(d.Hours())%24
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// age renders how long ago t was, briefly: "42s", "3m", "5h", "2d".
func age(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(int(d.Seconds()), 0))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours())/24)
}
