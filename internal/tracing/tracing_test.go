package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/idpbot/idpbot/internal/tracing"
)

// TestDisabledCostsNothing: without an endpoint, Setup installs nothing,
// and a span started and ended on the no-op provider allocates nothing.
// (No test of this package installs a provider: the global stays no-op.)
func TestDisabledCostsNothing(t *testing.T) {
	env := func(string) string { return "" }
	if tracing.Enabled(env) {
		t.Fatal("Enabled() with no OTEL_* variable = true")
	}
	shutdown, err := tracing.Setup(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		_, span := tracing.Start(ctx, "slack.command")
		tracing.End(span, nil)
	})
	if allocs != 0 {
		t.Errorf("a disabled span allocates %v times, want 0", allocs)
	}
}

func TestEnabled(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, false},
	} {
		if got := tracing.Enabled(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("Enabled(%v) = %v, want %v", tc.env, got, tc.want)
		}
	}
}

// TestLogHandlerAddsTraceIDs: a record logged inside a span carries its
// trace and span ids; one logged outside carries neither.
func TestLogHandlerAddsTraceIDs(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, span := tp.Tracer("test").Start(context.Background(), "work")
	var buf bytes.Buffer
	log := slog.New(tracing.NewLogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "jobs")
	log.InfoContext(ctx, "inside")
	span.End()
	log.InfoContext(context.Background(), "outside")

	dec := json.NewDecoder(&buf)
	var inside, outside map[string]any
	if err := dec.Decode(&inside); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&outside); err != nil {
		t.Fatal(err)
	}
	sc := span.SpanContext()
	if inside["trace_id"] != sc.TraceID().String() || inside["span_id"] != sc.SpanID().String() {
		t.Errorf("log inside a span = %v, want trace_id %s span_id %s", inside, sc.TraceID(), sc.SpanID())
	}
	if inside["component"] != "jobs" {
		t.Errorf("log inside a span lost the logger's attributes: %v", inside)
	}
	if _, ok := outside["trace_id"]; ok {
		t.Errorf("log outside a span has a trace_id: %v", outside)
	}
}

func TestEndRecordsError(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	_, span := tp.Tracer("test").Start(context.Background(), "provision")
	tracing.End(span, errors.New("target refused"))
	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Status().Code != codes.Error || ended[0].Status().Description != "target refused" {
		t.Errorf("ended spans = %v, want one with error status %q", ended, "target refused")
	}
}

// BenchmarkDisabledSpan is the cost of a span when tracing is off.
func BenchmarkDisabledSpan(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, span := tracing.Start(ctx, "slack.command")
		tracing.End(span, nil)
	}
}
