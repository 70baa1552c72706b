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

// Editor is a Poster that can also change a message it posted: an approval
// card shows the decision once the request is decided, its buttons gone.
type Editor interface {
	// Edit replaces the message ref in channel with reply; a reply without
	// Actions removes the message's buttons. A message that no longer
	// exists is a platform NotFound error.
	Edit(ctx context.Context, channel, ref string, reply Reply) error
}
