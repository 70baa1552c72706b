package digest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// TextPoster is a Poster that writes the plain-text rendering of each
// digest to a writer, headed by its channel: the console's Poster.
type TextPoster struct {
	mu sync.Mutex
	w  io.Writer
}

var _ Poster = (*TextPoster)(nil)

// NewTextPoster returns a TextPoster writing to w.
func NewTextPoster(w io.Writer) *TextPoster { return &TextPoster{w: w} }

// PostDigest implements Poster.
func (p *TextPoster) PostDigest(_ context.Context, channel string, d Digest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] digest\n", channel)
	for _, l := range strings.SplitAfter(Reply(d).Text(), "\n") {
		if l != "" && l != "\n" {
			b.WriteString("  ")
		}
		b.WriteString(l)
	}
	_, err := io.WriteString(p.w, b.String())
	return err
}
