package platform

import "testing"

func TestIdempotencyKey(t *testing.T) {
	alice := Actor{ID: "slack:U0ALICE"}
	bob := Actor{ID: "slack:U0BOB"}
	a1, err := IdempotencyKey("slack", "trigger", "1.2.abc", alice)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := IdempotencyKey("slack", "trigger", "1.2.abc", alice)
	if a1 != a2 {
		t.Errorf("redelivery keys differ: %q, %q", a1, a2)
	}
	b, _ := IdempotencyKey("slack", "trigger", "1.2.abc", bob)
	if a1 == b {
		t.Errorf("two users with the same trigger id share the key %q", a1)
	}
	v, _ := IdempotencyKey("slack", "view", "1.2.abc", alice)
	if v == a1 {
		t.Errorf("a view and a trigger with the same id share the key %q", v)
	}
	for _, id := range []string{"", "  "} {
		if k, err := IdempotencyKey("slack", "trigger", id, alice); err == nil || ErrorCode(err) != Invalid {
			t.Errorf("id %q: key %q, err %v; want an Invalid error", id, k, err)
		}
	}
	if k, err := IdempotencyKey("discord", "interaction", "123", Actor{}); err == nil || ErrorCode(err) != Invalid {
		t.Errorf("no actor: key %q, err %v; want an Invalid error", k, err)
	}
}
