// Package tracing is idpbot's OpenTelemetry tracing: one trace per chat
// request, from the acknowledgement through the River jobs, the driver's
// steps and the SQL they run. Spans go to an OTLP/HTTP collector when the
// standard OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// is set; otherwise the global tracer provider stays OpenTelemetry's no-op
// one and a span costs no allocation.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Scope is the instrumentation scope of idpbot's own spans.
const Scope = "github.com/idpbot/idpbot"

// tracer is the global provider's tracer: it follows the provider that
// Setup (or a test) installs.
var tracer = otel.Tracer(Scope)

// installed is set once a provider is installed; until then Start returns
// noSpan without touching OpenTelemetry (whose global no-op still
// allocates a span per call).
var installed atomic.Bool

// noSpan is the span of Start while nothing is installed, converted to
// the interface once.
var noSpan trace.Span = noop.Span{}

// Active reports whether a tracer provider is installed: instrumentation
// that costs something even on a no-op provider (River's, pgx's) is added
// only then.
func Active() bool { return installed.Load() }

// Enabled reports whether getenv asks for spans to be exported: an OTLP
// endpoint is set and the SDK is not disabled (OTEL_SDK_DISABLED=true).
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs an OTLP/HTTP exporting tracer provider as the global one
// when Enabled(getenv); the exporter reads the other OTEL_EXPORTER_OTLP_*
// settings (headers, timeout, protocol) itself, and OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES name the service (default idpbot). Otherwise it
// installs nothing. shutdown flushes the spans still buffered; call it once
// on exit. Setup does no network I/O.
func Setup(ctx context.Context, getenv func(string) string) (shutdown func(context.Context) error, err error) {
	if !Enabled(getenv) {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(serviceName(getenv))))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	Install(sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)))
	return exp.Shutdown, nil
}

// serviceName is OTEL_SERVICE_NAME, or idpbot.
func serviceName(getenv func(string) string) string {
	if s := getenv("OTEL_SERVICE_NAME"); s != "" {
		return s
	}
	return "idpbot"
}

// Install makes tp the global tracer provider, with W3C trace context as
// the propagator (what River job metadata carries).
func Install(tp trace.TracerProvider) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetTracerProvider(tp)
	installed.Store(true)
}

// Start begins a span named name as a child of ctx's span, or a new
// trace's root.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !installed.Load() {
		return ctx, noSpan
	}
	if len(attrs) == 0 {
		return tracer.Start(ctx, name)
	}
	return tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// End ends span, recording err (when not nil) as its error status.
func End(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
