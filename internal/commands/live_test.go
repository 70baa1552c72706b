package commands_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

func TestStatusLiveSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		set     func(d *platformtest.Driver)
		want    []string
		notWant []string
	}{
		{desc: "not available", set: func(*platformtest.Driver) {},
			want: []string{"Live\n  live status is not available for postgres"}},
		{desc: "healthy", set: func(d *platformtest.Driver) {
			d.SetStatus(0, platform.LiveStatus{Health: platform.Healthy, Summary: "the database and its role exist"}, nil)
		}, want: []string{"Live\n  Health   healthy\n  Summary  the database and its role exist\n  Read at  "}},
		{desc: "missing", set: func(d *platformtest.Driver) {
			d.SetStatus(0, platform.LiveStatus{Health: platform.Missing, Summary: "the database is missing",
				Checks: []platform.LiveCheck{{Name: "database", Recorded: "payments_development_db", Live: "absent"}}}, nil)
		}, want: []string{"Health    missing (does not match the record)", "database  payments_development_db → absent (differs)"}},
		{desc: "unreachable", set: func(d *platformtest.Driver) {
			d.SetStatus(0, platform.LiveStatus{}, errors.New("dial tcp 10.1.2.3:5432: connection refused"))
		}, want: []string{"Live\n  could not read: the postgres target did not answer"}, notWant: []string{"10.1.2.3", "refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.mustCreate(t, bob, "create postgresql-database name=db")
			tt.set(e.f.Driver)
			reply := e.run(bob, "status db")
			if reply.Err != nil {
				t.Fatalf("status failed: %s", reply.Text())
			}
			text := reply.Text()
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("status lacks %q:\n%s", w, text)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(text, w) {
					t.Errorf("status shows %q:\n%s", w, text)
				}
			}
		})
	}
}

func TestStatusReadsNothingBeforeItExists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.f.Driver.SetStatus(0, platform.LiveStatus{Health: platform.Healthy}, nil)
	if reply := e.run(bob, "create postgresql-database name=waiting"); reply.Err != nil {
		t.Fatal(reply.Text())
	}
	text := e.run(bob, "status waiting").Text()
	if strings.Contains(text, "Live") || e.f.Driver.StatusReads() != 0 {
		t.Errorf("status of a pending resource read the live state (%d reads):\n%s", e.f.Driver.StatusReads(), text)
	}
}
