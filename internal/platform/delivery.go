package platform

import (
	"context"
	"errors"
)

// Delivery is a run of a resource's undelivered events handed to a chat
// platform's notifier at once, in order, so that it can hand connection
// details over before the thread catches up, and tell several events in
// one message when the platform is busy.
type Delivery struct {
	Events []Event
	// Secrets holds, by event ID, the opened connection details of the
	// EventSecret events still to hand over. A secret event not in it was
	// handed over by an earlier attempt (HandOver). Nil: the caller hands
	// connection details over itself, and the notifier tells no secret
	// event.
	Secrets map[int64]map[string]string
	// Attempted is the last event of the first message an earlier attempt
	// began to deliver and may have posted (0: none): the next message
	// must tell exactly the events up to it, so that it is found under the
	// same key rather than posted again.
	Attempted int64
	// Start records, before a message telling the events up to through is
	// sent, that its delivery began, and returns ctx marked with
	// WithRedelivery when an earlier attempt had begun the same.
	Start func(ctx context.Context, through int64) (context.Context, error)
	// HandOver (required with Secrets) hands the connection details of
	// secret event id over with send unless they were already, under a
	// lock on the event, so that two deliveries (a hand-over job and the
	// thread's) never both send them. send reports whether they were
	// handed over (false: they could not be, and the thread tells why); its
	// ctx is marked WithRedelivery when an earlier attempt may have sent
	// them. HandOver reports whether send ran. A hand-over is an attempt of
	// its own, apart from Start's.
	HandOver func(ctx context.Context, id int64, send func(ctx context.Context) (bool, error)) (bool, error)
}

// ErrDeliveryBusy is what a delivery that does not wait returns when
// another delivery of the same resource's events is under way: try again
// in a moment (that one may not have seen the newest events).
var ErrDeliveryBusy = errors.New("another delivery of this resource's events is under way")
