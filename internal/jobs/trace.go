package jobs

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/idpbot/idpbot/internal/tracing"
)

// traceMiddleware is River's OpenTelemetry middleware when tracing is on
// (tracing.Active), nothing otherwise: inserting a job records the
// inserter's trace context in the job's metadata, and working it runs in
// a span of that same trace (continued, not only linked to), so that one
// chat request is one trace across its jobs.
func traceMiddleware() []rivertype.Middleware {
	if !tracing.Active() {
		return nil
	}
	return []rivertype.Middleware{continueTrace, otelriver.NewMiddleware(&otelriver.MiddlewareConfig{
		EnableTracePropagation: true, EnableWorkSpanJobKindSuffix: true,
	})}
}

// continueTrace makes the trace context in a job's metadata the parent of
// the work: otelriver, which runs inside it, would otherwise start a new
// trace with only a link to the inserter's.
var continueTrace = river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if !bytes.Contains(job.Metadata, []byte(`"traceparent"`)) {
		return doInner(ctx)
	}
	var meta map[string]any
	if err := json.Unmarshal(job.Metadata, &meta); err != nil {
		return doInner(ctx)
	}
	carrier := propagation.MapCarrier{}
	for _, k := range []string{"traceparent", "tracestate"} {
		if s, ok := meta[k].(string); ok {
			carrier[k] = s
		}
	}
	if sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier)); sc.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return doInner(ctx)
})
