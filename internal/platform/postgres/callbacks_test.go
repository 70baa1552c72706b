package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/drivers/webhook"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/postgres"
	"github.com/idpbot/idpbot/internal/platform/postgres/postgrestest"
)

func TestCallbacks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := postgres.NewCallbacks(postgrestest.Pool(t))
	const token = "0123456789abcdef0123456789abcdef01234567"
	if err := c.Register(ctx, token, 7, "create"); err != nil {
		t.Fatal(err)
	}
	// A retried job registers again; the registration is kept.
	if err := c.Register(ctx, token, 7, "create"); err != nil {
		t.Fatalf("Register again: %v", err)
	}
	cb, err := c.Claim(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(webhook.Callback{State: "pending", Outputs: map[string]any{}}, cb); diff != "" {
		t.Errorf("registered callback mismatch (-want +got):\n%s", diff)
	}

	step := func(msg string) func(int64, string) (webhook.CallbackUpdate, error) {
		return func(id int64, state string) (webhook.CallbackUpdate, error) {
			if id != 7 {
				t.Errorf("update got request %d, want 7", id)
			}
			return webhook.CallbackUpdate{State: "provisioning", Message: msg, Step: msg, MaxSteps: 3}, nil
		}
	}
	for _, msg := range []string{"one", "two", "three", "four"} {
		if err := c.Record(ctx, token, step(msg)); err != nil {
			t.Fatalf("Record(%s): %v", msg, err)
		}
	}
	// Concurrent claims return each step once; only MaxSteps were kept.
	var (
		mu  sync.Mutex
		got []string
		wg  sync.WaitGroup
	)
	for range 4 {
		wg.Go(func() {
			cb, err := c.Claim(ctx, token)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, cb.Steps...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(got) != 3 {
		t.Errorf("claimed steps = %q, want one, two and three once each", got)
	}

	refused := errors.New("refused")
	if err := c.Record(ctx, token, func(int64, string) (webhook.CallbackUpdate, error) { return webhook.CallbackUpdate{}, refused }); !errors.Is(err, refused) {
		t.Errorf("Record with a refusing update = %v, want %v", err, refused)
	}
	ready := webhook.CallbackUpdate{State: "ready", Message: "done", Outputs: map[string]string{"url": "https://x.example.com"}, Secrets: []byte("sealed")}
	if err := c.Record(ctx, token, func(_ int64, state string) (webhook.CallbackUpdate, error) {
		if state != "provisioning" {
			t.Errorf("state before ready = %q, want provisioning (a refused update stores nothing)", state)
		}
		return ready, nil
	}); err != nil {
		t.Fatal(err)
	}
	cb, err = c.Claim(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	want := webhook.Callback{State: "ready", Message: "done", Outputs: map[string]any{"url": "https://x.example.com"}, Secrets: []byte("sealed")}
	if diff := cmp.Diff(want, cb); diff != "" {
		t.Errorf("ready callback mismatch (-want +got):\n%s", diff)
	}

	if err := c.Record(ctx, "ffffffffffffffffffffffffffffffffffffffff", step("x")); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("Record(unknown token) = %v, want NotFound", err)
	}
	if err := c.Forget(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Claim(ctx, token); err == nil {
		t.Errorf("Claim after Forget succeeded, want an error")
	}
}
