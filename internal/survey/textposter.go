package survey

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// TextPoster is a Poster that writes the plain-text rendering of what it
// posts to a writer, each message headed by its channel: the console's
// Poster. It does not know channel members.
type TextPoster struct {
	loc *time.Location

	mu sync.Mutex
	w  io.Writer
	n  int
}

var _ Poster = (*TextPoster)(nil)

// NewTextPoster returns a TextPoster writing to w, showing dates in loc
// (UTC when nil).
func NewTextPoster(w io.Writer, loc *time.Location) *TextPoster {
	return &TextPoster{w: w, loc: loc}
}

func (p *TextPoster) write(header, body string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	ref := fmt.Sprintf("text-%d", p.n)
	_, err := fmt.Fprintf(p.w, "%s\n%s", header, indent(body))
	return ref, err
}

// indent indents every line of s by two spaces.
func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l == "" {
			continue
		}
		if l != "\n" {
			b.WriteString("  ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// PostSurvey implements Poster.
func (p *TextPoster) PostSurvey(_ context.Context, channel string, s Survey) (string, error) {
	return p.write(fmt.Sprintf("[%s] survey %s", channel, s.Ref()), SurveyReply(s, p.loc).Text())
}

// PostSurveyResult implements Poster.
func (p *TextPoster) PostSurveyResult(_ context.Context, channel, ref string, s Survey, prev *Result) error {
	_, err := p.write(fmt.Sprintf("[%s] in thread %s", channel, ref), ResultReply(s, prev, p.loc).Text())
	return err
}

// PostComments implements Poster.
func (p *TextPoster) PostComments(_ context.Context, channel string, s Survey, comments []Comment) error {
	_, err := p.write(fmt.Sprintf("[%s]", channel), CommentsReply(s, comments).Text())
	return err
}

// ChannelMembers implements Poster: the console does not know.
func (p *TextPoster) ChannelMembers(context.Context, string) (int, error) { return 0, nil }
