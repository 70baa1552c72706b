package platform_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
)

func TestTransition(t *testing.T) {
	t.Parallel()
	legal := map[[2]platform.State]bool{
		{platform.Pending, platform.AwaitingApproval}:      true,
		{platform.Pending, platform.Provisioning}:          true,
		{platform.Pending, platform.Failed}:                true,
		{platform.AwaitingApproval, platform.Provisioning}: true,
		{platform.AwaitingApproval, platform.Rejected}:     true,
		{platform.AwaitingApproval, platform.Expired}:      true,
		{platform.Provisioning, platform.Ready}:            true,
		{platform.Provisioning, platform.Failed}:           true,
		{platform.Ready, platform.Deleting}:                true,
		{platform.Ready, platform.Updating}:                true,
		{platform.Updating, platform.Ready}:                true,
		{platform.Updating, platform.Failed}:               true,
		{platform.Failed, platform.Deleting}:               true,
		{platform.Failed, platform.Provisioning}:           true,
		{platform.Failed, platform.Updating}:               true,
		{platform.Failed, platform.Forgotten}:              true,
		{platform.Deleting, platform.Deleted}:              true,
		{platform.Deleting, platform.Failed}:               true,
		{platform.Deleting, platform.Forgotten}:            true,
	}
	for _, from := range append(platform.States, "bogus") {
		for _, to := range append(platform.States, "bogus") {
			err := platform.Transition(from, to)
			if want := legal[[2]platform.State{from, to}]; (err == nil) != want {
				t.Errorf("Transition(%s, %s) = %v, want legal=%v", from, to, err, want)
			}
			if err != nil && platform.ErrorCode(err) != platform.Internal {
				t.Errorf("Transition(%s, %s) code = %s, want internal", from, to, platform.ErrorCode(err))
			}
		}
	}
}

func TestStatePredicates(t *testing.T) {
	t.Parallel()
	type preds struct{ Valid, Final, Settled, Active bool }
	want := map[platform.State]preds{
		platform.Pending:          {Valid: true, Active: true},
		platform.AwaitingApproval: {Valid: true, Settled: true, Active: true},
		platform.Provisioning:     {Valid: true, Active: true},
		platform.Ready:            {Valid: true, Final: true, Settled: true, Active: true},
		platform.Updating:         {Valid: true, Active: true},
		platform.Failed:           {Valid: true, Final: true, Settled: true, Active: true},
		platform.Forgotten:        {Valid: true, Final: true, Settled: true},
		platform.Deleting:         {Valid: true, Active: true},
		platform.Deleted:          {Valid: true, Final: true, Settled: true},
		platform.Rejected:         {Valid: true, Final: true, Settled: true},
		platform.Expired:          {Valid: true, Final: true, Settled: true},
		"":                        {},
		"ready ":                  {},
	}
	for s, w := range want {
		got := preds{s.Valid(), s.Final(), s.Settled(), s.Active()}
		if diff := cmp.Diff(w, got); diff != "" {
			t.Errorf("state %q mismatch (-want +got):\n%s", s, diff)
		}
	}
	if diff := cmp.Diff([]platform.State{platform.Pending, platform.AwaitingApproval, platform.Provisioning, platform.Ready, platform.Updating, platform.Failed, platform.Deleting}, platform.ActiveStates()); diff != "" {
		t.Errorf("ActiveStates mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]platform.State{platform.Pending, platform.AwaitingApproval, platform.Provisioning, platform.Ready, platform.Updating, platform.Deleting}, platform.CountedStates()); diff != "" {
		t.Errorf("CountedStates mismatch (-want +got):\n%s", diff)
	}
}

// Every state a resource can reach is reachable from pending, and every
// final state but deleted, rejected and expired can still move on.
func TestLifecycleReachability(t *testing.T) {
	t.Parallel()
	seen := map[platform.State]bool{platform.Pending: true}
	queue := []platform.State{platform.Pending}
	for len(queue) > 0 {
		from := queue[0]
		queue = queue[1:]
		for _, to := range platform.States {
			if platform.Transition(from, to) == nil && !seen[to] {
				seen[to] = true
				queue = append(queue, to)
			}
		}
	}
	for _, s := range platform.States {
		if !seen[s] {
			t.Errorf("state %s is unreachable from pending", s)
		}
	}
	for _, s := range []platform.State{platform.Deleted, platform.Rejected, platform.Expired} {
		for _, to := range platform.States {
			if platform.Transition(s, to) == nil {
				t.Errorf("%s is terminal but may move to %s", s, to)
			}
		}
	}
	if got := fmt.Sprint(platform.Transition(platform.Ready, platform.Pending)); got != "illegal state transition: illegal transition ready → pending" {
		t.Errorf("Transition(ready, pending) = %q", got)
	}
}
