package platformtest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/platform/platformtest"
)

// recorder is a Notifier that records what it is told.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *recorder) Notify(_ context.Context, res *platform.Resource, ev platform.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf("%s %s %s", res.Ref(), ev.Kind, ev.To+" "+platform.State(ev.Message)))
	return nil
}

func (r *recorder) Private(_ context.Context, res *platform.Resource, secrets map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, fmt.Sprintf("%s private password=%s", res.Ref(), secrets["password"]))
	return nil
}

func TestFixtureJobs(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t, platformtest.WithJobs(3))
	rec := &recorder{}
	f.Deliver("console", rec)
	ignored := &recorder{}
	f.Deliver("slack", ignored)
	r, _, err := f.Engine.Submit(context.Background(), platformtest.Bob, platform.Request{Service: "postgresql-database", Name: "orders-db", Team: "payments",
		Environment: "development", Origin: platform.Origin{Platform: "console"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Settle(r.ID, 5*time.Second); got.State != platform.Ready {
		t.Fatalf("settled in %s (%s), want ready", got.State, got.Reason)
	}
	f.Flush(5 * time.Second)
	want := []string{
		"#1 transition pending requested by bob",
		"#1 transition provisioning provisioning started",
		"#1 step  creating role payments_development_orders_db",
		"#1 step  creating database payments_development_orders_db",
		"#1 transition ready ready",
		"#1 private password=pw-1-orders-db",
	}
	rec.mu.Lock()
	if diff := cmp.Diff(want, rec.lines); diff != "" {
		t.Errorf("deliveries mismatch (-want +got):\n%s", diff)
	}
	rec.mu.Unlock()
	if len(ignored.lines) != 0 {
		t.Errorf("slack notifier got console events: %v", ignored.lines)
	}
	if _, err := f.Engine.Delete(context.Background(), platformtest.Bob, "orders-db"); err != nil {
		t.Fatal(err)
	}
	if got := f.WaitState(r.ID, 5*time.Second, func(s platform.State) bool { return s == platform.Deleted }); got.State != platform.Deleted {
		t.Errorf("state = %s", got.State)
	}
}

func TestFixtureJobsRetryThenFail(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t, platformtest.WithJobs(2))
	f.Driver.Fail(platformtest.OpProvision, platformtest.Transient("connection refused"), -1)
	r, _, err := f.Engine.Submit(context.Background(), platformtest.Bob, platform.Request{Service: "postgresql-database", Name: "db", Team: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	got := f.Settle(r.ID, 5*time.Second)
	if got.State != platform.Failed || got.Reason != "provisioning failed after 2 attempts: Something went wrong" {
		t.Errorf("settled %s with %q", got.State, got.Reason)
	}
	if n := f.Driver.Count(platformtest.OpProvision); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestDriverHoldAndRelease(t *testing.T) {
	t.Parallel()
	f := platformtest.Engine(t, platformtest.WithJobs(1))
	release := f.Driver.Hold()
	r, _, err := f.Engine.Submit(context.Background(), platformtest.Bob, platform.Request{Service: "postgresql-database", Name: "db", Team: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	f.Driver.WaitCalls(t, platformtest.OpProvision, 1, 5*time.Second)
	if got, _ := f.Store.Resource(context.Background(), r.ID); got.State != platform.Provisioning {
		t.Errorf("held resource is %s, want provisioning", got.State)
	}
	release()
	release()
	if got := f.Settle(r.ID, 5*time.Second); got.State != platform.Ready {
		t.Errorf("released resource is %s", got.State)
	}
}

func TestDriverFailQueue(t *testing.T) {
	t.Parallel()
	d := platformtest.NewDriver()
	d.Steps = []string{"one", "two"}
	d.Fail(platformtest.OpProvision, platformtest.Permanent("first"), 2)
	d.Fail(platformtest.OpProvision, platformtest.Transient("second"), 1)
	var steps []string
	job := platform.Job{Resource: &platform.Resource{ID: 1, Name: "db", Team: "t", Environment: "e"}, Step: func(s string) { steps = append(steps, s) }}
	var got []string
	for range 5 {
		_, err := d.Provision(context.Background(), job)
		got = append(got, fmt.Sprint(err, " ", platform.IsPermanent(err)))
	}
	want := []string{"first true", "first true", "second false", "<nil> false", "<nil> false"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results mismatch (-want +got):\n%s", diff)
	}
	if s := strings.Join(steps, ","); s != "one,one,one,one,two,one,two" {
		t.Errorf("steps = %s", s)
	}
	if d.Count(platformtest.OpProvision) != 5 || d.Count(platformtest.OpDeprovision) != 0 {
		t.Errorf("counts %d/%d", d.Count(platformtest.OpProvision), d.Count(platformtest.OpDeprovision))
	}
	d.SetUnavailable("no postgres target configured")
	if err := d.Check(); platform.ErrorCode(err) != platform.Unavailable {
		t.Errorf("Check = %v", err)
	}
	d.Reset()
	if err := d.Check(); err != nil || len(d.Calls()) != 0 {
		t.Errorf("after Reset: Check %v, %d calls", err, len(d.Calls()))
	}
}

func TestCatalogFixtureMatchesDesign(t *testing.T) {
	t.Parallel()
	c := platformtest.Catalog(t)
	type param struct {
		Name     string
		Kind     platform.FieldKind
		Options  []string
		Min, Max int64
		Default  any
	}
	params := func(name string) []param {
		s, err := c.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		var out []param
		for _, f := range s.Fields {
			p := param{Name: f.Name, Kind: f.Kind, Options: f.Options, Default: f.Default}
			if f.Min != nil {
				p.Min = *f.Min
			}
			if f.Max != nil {
				p.Max = *f.Max
			}
			out = append(out, p)
		}
		return out
	}
	want := map[string][]param{
		"postgresql-database": {
			{Name: "size", Kind: platform.KindEnum, Options: []string{"small", "medium", "large"}, Default: "small"},
			{Name: "high_availability", Kind: platform.KindBoolean, Default: false},
			{Name: "backup_retention_days", Kind: platform.KindInteger, Min: 1, Max: 35, Default: int64(7)},
		},
		"web-application": {
			{Name: "replicas", Kind: platform.KindInteger, Min: 1, Max: 10, Default: int64(2)},
			{Name: "cpu", Kind: platform.KindEnum, Options: []string{"250m", "500m", "1000m", "2000m"}, Default: "500m"},
			{Name: "memory", Kind: platform.KindEnum, Options: []string{"256Mi", "512Mi", "1Gi", "2Gi", "4Gi"}, Default: "512Mi"},
		},
		"api-gateway": {
			{Name: "upstream", Kind: platform.KindString},
			{Name: "rate_limit", Kind: platform.KindInteger, Min: 1, Max: 100000, Default: int64(1000)},
			{Name: "authentication", Kind: platform.KindEnum, Options: []string{"none", "api_key", "oauth2", "oidc"}, Default: "oauth2"},
		},
	}
	for name, w := range want {
		if diff := cmp.Diff(w, params(name)); diff != "" {
			t.Errorf("%s parameters mismatch (-want +got):\n%s", name, diff)
		}
	}
	org := platformtest.Org()
	if diff := cmp.Diff([]string{"development", "staging", "production"}, org.EnvironmentNames()); diff != "" {
		t.Errorf("environments mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"payments", "platform"}, org.TeamsOf(platformtest.Alice)); diff != "" {
		t.Errorf("alice's teams mismatch (-want +got):\n%s", diff)
	}
	if got := org.TeamsOf(platformtest.Carol); len(got) != 1 || got[0] != "platform" {
		t.Errorf("carol's teams = %v", got)
	}
}
