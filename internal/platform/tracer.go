package platform

import "context"

// Tracer wraps the driver's work on a resource in a trace span, and its
// progress steps in the span's events. Implementations must be cheap when
// tracing is off.
type Tracer interface {
	// Start begins a span named name for r's driver work (a child of ctx's
	// span) and returns the context the driver runs in.
	Start(ctx context.Context, name string, r *Resource) (context.Context, Span)
}

// Span is one traced piece of driver work.
type Span interface {
	// Step records a progress step the driver reported.
	Step(message string)
	// End finishes the span with the work's error (nil: success).
	End(err error)
}

type nopTracer struct{}

func (nopTracer) Start(ctx context.Context, _ string, _ *Resource) (context.Context, Span) {
	return ctx, nopSpan{}
}

type nopSpan struct{}

func (nopSpan) Step(string) {}
func (nopSpan) End(error)   {}

// traced returns job with its Step also recorded in span.
func traced(job Job, span Span) Job {
	step := job.Step
	job.Step = func(msg string) {
		span.Step(msg)
		step(msg)
	}
	return job
}
