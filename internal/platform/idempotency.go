package platform

import "strings"

// IdempotencyKey returns the key of a request made by actor through one
// delivery of a chat platform: platform names the adapter ("slack",
// "discord"), kind the sort of delivery ("trigger", "view", "action",
// "interaction") and id the platform's identifier of that delivery. A
// redelivery of the same delivery by the same person gets the same key; a
// delivery by someone else never does, even when the platform gave both
// the same id.
//
// A delivery without an id, or without an actor, cannot be told apart from
// another one: it is refused with an Invalid error fit to show in the chat,
// rather than keyed so that it would collide with every other such delivery
// and answer with another person's request.
func IdempotencyKey(platform, kind, id string, actor Actor) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", Errorf(Invalid, "This request came with no %s id, so it cannot be told apart from another one and was not run. Try again; if it keeps happening, tell the platform team.", kind)
	}
	if actor.ID == "" {
		return "", Errorf(Invalid, "This request came with no user, so it was not run. Try again; if it keeps happening, tell the platform team.")
	}
	return platform + ":" + kind + ":" + id + ":" + actor.ID, nil
}
