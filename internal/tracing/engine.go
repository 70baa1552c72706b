package tracing

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/idpbot/idpbot/internal/platform"
)

// Engine traces the engine's driver work: a span per driver call with the
// request's service, team, environment and id, and an event per progress
// step.
type Engine struct{}

var _ platform.Tracer = Engine{}

// Start implements platform.Tracer.
func (Engine) Start(ctx context.Context, name string, r *platform.Resource) (context.Context, platform.Span) {
	if !installed.Load() {
		return ctx, engineSpan{noSpan}
	}
	ctx, span := tracer.Start(ctx, name, trace.WithAttributes(
		attribute.Int64("idpbot.request_id", r.ID), attribute.String("idpbot.service", r.Service),
		attribute.String("idpbot.team", r.Team), attribute.String("idpbot.environment", r.Environment)))
	return ctx, engineSpan{span}
}

type engineSpan struct{ trace.Span }

func (s engineSpan) Step(message string) { s.AddEvent(message) }
func (s engineSpan) End(err error)       { End(s.Span, err) }
