package platform

import (
	"strings"
	"unicode"
)

// OneLine makes untrusted text (a script's stderr, a cluster's status, an
// HTTP body) fit for a chat message: control characters and runs of white
// space become one space, and it is cut to at most n runes, with "…".
func OneLine(s string, n int) string {
	var b strings.Builder
	count, space := 0, false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			count++
			space = false
		}
		if count >= n {
			return strings.TrimSpace(b.String()) + "…"
		}
		b.WriteRune(r)
		count++
	}
	return b.String()
}

// LastLines returns the last n lines of a command's output, joined with
// " | ": what a failed command said, on one line.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// MessageRef is where a chat message was posted: a chat platform, a
// channel and the message's reference there (a Slack ts, a Discord message
// ID, …), opaque outside its adapter.
type MessageRef struct {
	Platform, Channel, Ref string
}
