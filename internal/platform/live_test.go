package platform_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// blind is a driver that cannot read live state: it hides the fake's
// Status.
type blind struct{ platform.Driver }

func TestLiveStatus(t *testing.T) {
	t.Parallel()
	missing := platform.LiveStatus{Health: platform.Missing, Summary: "the database is missing",
		Checks: []platform.LiveCheck{{Name: "database", Recorded: "payments_development_db", Live: "absent"}}}
	tests := []struct {
		desc  string
		set   func(d *platformtest.Driver, id int64)
		blind bool
		// want is the status; wantErr the chat message of the error.
		want        platform.LiveStatus
		wantErr     string
		notAvailble bool
	}{
		{desc: "healthy", set: func(d *platformtest.Driver, id int64) {
			d.SetStatus(id, platform.LiveStatus{Health: platform.Healthy, Summary: "the database and its role exist"}, nil)
		}, want: platform.LiveStatus{Health: platform.Healthy, Summary: "the database and its role exist"}},
		{desc: "missing", set: func(d *platformtest.Driver, id int64) { d.SetStatus(id, missing, nil) }, want: missing},
		{desc: "not implemented", blind: true, wantErr: "live status is not available for postgres", notAvailble: true},
		{desc: "not configured for the binding", set: func(*platformtest.Driver, int64) {},
			wantErr: "live status is not available for postgres", notAvailble: true},
		{desc: "unreachable", set: func(d *platformtest.Driver, id int64) {
			d.SetStatus(id, platform.LiveStatus{}, errors.New("dial tcp 10.0.0.7:5432: connect: connection refused"))
		}, wantErr: "could not read: the postgres target did not answer"},
		{desc: "unreachable with a message", set: func(d *platformtest.Driver, id int64) {
			d.SetStatus(id, platform.LiveStatus{}, platform.Wrap(platform.Unavailable, errors.New("x509: secret detail"), "the cluster refused the credentials"))
		}, wantErr: "could not read: the cluster refused the credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			d := platformtest.NewDriver()
			var drv platform.Driver = d
			if tt.blind {
				drv = blind{d}
			}
			f := platformtest.Engine(t, platformtest.WithDriver("postgres", drv))
			r := ready(t, f, bob, pgRequest("db", "payments", "development"))
			if tt.set != nil {
				tt.set(d, r.ID)
			}
			at := f.Clock.Peek()
			got, err := f.Engine.LiveStatus(context.Background(), bob, r)
			if tt.wantErr != "" {
				if err == nil || platform.ErrorMessage(err) != tt.wantErr || platform.ErrorCode(err) != platform.Unavailable {
					t.Fatalf("LiveStatus = %+v, %v; want Unavailable %q", got, err, tt.wantErr)
				}
				if platform.LiveNotAvailable(err) != tt.notAvailble {
					t.Errorf("LiveNotAvailable(%v) = %v, want %v", err, !tt.notAvailble, tt.notAvailble)
				}
				if strings.Contains(platform.ErrorMessage(err), "10.0.0.7") || strings.Contains(platform.ErrorMessage(err), "x509") {
					t.Errorf("the chat message leaks internals: %q", platform.ErrorMessage(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("LiveStatus: %v", err)
			}
			if !got.ReadAt.After(at) && !got.ReadAt.Equal(at) {
				t.Errorf("ReadAt %v is not from the engine's clock (at or after %v)", got.ReadAt, at)
			}
			tt.want.ReadAt = got.ReadAt
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LiveStatus mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLiveStatusTimesOut(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	r := ready(t, f, bob, pgRequest("db", "payments", "development"))
	f.Driver.HoldStatus(r.ID)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a target that does not answer, without waiting for LiveTimeout
	_, err := f.Engine.LiveStatus(ctx, bob, r)
	if platform.ErrorCode(err) != platform.Unavailable || !strings.HasPrefix(platform.ErrorMessage(err), "could not read: ") {
		t.Errorf("LiveStatus of a target that does not answer = %v", err)
	}
}

func TestLiveStatusOnlyWhereSomethingExists(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t)
	f.Driver.SetStatus(0, platform.LiveStatus{Health: platform.Healthy, Summary: "ok"}, nil)
	pending := submit(t, f, bob, pgRequest("waiting", "payments", "development"))
	if _, err := f.Engine.LiveStatus(context.Background(), bob, pending); platform.ErrorCode(err) != platform.Conflict {
		t.Errorf("LiveStatus of a pending resource = %v, want a Conflict", err)
	}
	if n := f.Driver.StatusReads(); n != 0 {
		t.Errorf("the driver was asked %d times about a pending resource", n)
	}
	r := ready(t, f, bob, pgRequest("db", "payments", "development"))
	if _, err := f.Engine.LiveStatus(context.Background(), carol, r); platform.ErrorCode(err) != platform.NotFound {
		t.Errorf("carol's LiveStatus of payments' resource = %v, want NotFound", err)
	}
	for _, s := range []platform.State{platform.Ready, platform.Updating, platform.Failed, platform.Deleting} {
		if !s.Live() {
			t.Errorf("%s.Live() = false", s)
		}
	}
	for _, s := range []platform.State{platform.Pending, platform.AwaitingApproval, platform.Provisioning, platform.Deleted, platform.Forgotten} {
		if s.Live() {
			t.Errorf("%s.Live() = true", s)
		}
	}
}
