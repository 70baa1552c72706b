package slack

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/idpbot/idpbot/internal/chat/slack/slackfake"
	"github.com/idpbot/idpbot/internal/platform"
	"github.com/idpbot/idpbot/internal/tracing"
)

// TestOneTracePerCreate: a create typed as a slash command is one trace,
// rooted at the acknowledgement of the command, through the submission,
// the provisioning job, the driver (its progress steps as events), the
// notification jobs that tell the thread and the hand-over of the
// connection details.
//
// Not parallel: it installs the process's tracer provider before the
// parallel tests start, so they run traced too (their spans are in other
// traces and are left out here).
func TestOneTracePerCreate(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	tracing.Install(tp)
	s := newStack(t, true)

	if status, body := s.slash(alice, "create postgresql-database name=traced-db team=payments"); status != http.StatusOK {
		t.Fatalf("slash command: %d %q", status, body)
	}
	var r *platform.Resource
	slackfake.Eventually(t, 20*time.Second, "the request ready", func() bool {
		rs, err := s.store.Resources(t.Context(), platform.ResourceFilter{Name: "traced-db"})
		if err == nil && len(rs) == 1 && rs[0].State == platform.Ready {
			r = rs[0]
			return true
		}
		return false
	})
	// The driver's span names the request: its trace is the request's.
	var tid trace.TraceID
	var inTrace []sdktrace.ReadOnlySpan
	names := func() []string {
		var out []string
		for _, sp := range inTrace {
			out = append(out, sp.Name())
		}
		return out
	}
	slackfake.Eventually(t, 20*time.Second, "the request's spans, up to the hand-over of its connection details", func() bool {
		ended := rec.Ended()
		for _, sp := range ended {
			if sp.Name() == "driver.provision" && slices.Contains(sp.Attributes(), attribute.Int64("idpbot.request_id", r.ID)) {
				tid = sp.SpanContext().TraceID()
			}
		}
		inTrace = inTrace[:0]
		for _, sp := range ended {
			if tid.IsValid() && sp.SpanContext().TraceID() == tid {
				inTrace = append(inTrace, sp)
			}
		}
		// A delivery job tells the thread every event recorded before it
		// (a later one replaces those still waiting), and the hand-over
		// job, inserted with the last delivery, sends the details.
		return slices.Contains(names(), "river.work/notify") && slices.Contains(names(), "river.work/handover")
	})
	got := names()
	for _, want := range []string{"slack.ack command", "commands.submit", "river.work/provision", "driver.provision", "river.work/notify", "river.work/handover"} {
		if !slices.Contains(got, want) {
			t.Errorf("the request's trace has no %q span; it has %q", want, got)
		}
	}
	for _, sp := range inTrace {
		switch sp.Name() {
		case "slack.ack command":
			if sp.Parent().IsValid() {
				t.Errorf("the acknowledgement has parent %v: the trace should start there", sp.Parent())
			}
		case "driver.provision":
			var steps []string
			for _, ev := range sp.Events() {
				steps = append(steps, ev.Name)
			}
			if want := []string{"creating role payments_development_traced_db", "creating database payments_development_traced_db"}; !slices.Equal(steps, want) {
				t.Errorf("driver span events = %q, want the steps %q", steps, want)
			}
		}
	}
	// Every span of the request hangs off the acknowledgement: one tree.
	ids := map[trace.SpanID]bool{}
	for _, sp := range inTrace {
		ids[sp.SpanContext().SpanID()] = true
	}
	for _, sp := range inTrace {
		if p := sp.Parent(); p.IsValid() && !ids[p.SpanID()] && !p.IsRemote() {
			t.Errorf("span %s has parent %s outside the trace's recorded spans", sp.Name(), p.SpanID())
		}
	}
}
