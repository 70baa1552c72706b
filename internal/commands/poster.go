package commands

import "context"

// Poster posts to a chat platform's channels outside any command: approval
// cards, support tickets, surveys, digests. Each adapter implements it;
// callers run it from durable jobs so a chat outage delays and never loses.
type Poster interface {
	// Post posts reply (with its Actions as buttons) in channel and returns
	// a reference to the message, under which PostInThread replies.
	Post(ctx context.Context, channel string, reply Reply) (ref string, err error)
	// PostInThread posts reply in the thread of the message ref.
	PostInThread(ctx context.Context, channel, ref string, reply Reply) error
}
