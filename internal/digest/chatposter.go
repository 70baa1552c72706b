package digest

import (
	"context"

	"github.com/idpbot/idpbot/internal/commands"
)

// chatPoster posts digests through a chat platform's commands.Poster.
type chatPoster struct{ p commands.Poster }

// ChatPoster returns the Poster of digests through p.
func ChatPoster(p commands.Poster) Poster { return chatPoster{p: p} }

func (c chatPoster) PostDigest(ctx context.Context, channel string, d Digest) error {
	_, err := c.p.Post(ctx, channel, Reply(d))
	return err
}
