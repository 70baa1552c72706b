package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/idpbot/idpbot/internal/tracing"
)

// newLogger builds the log: text on a terminal (and in the console), JSON
// otherwise (production), unless IDPBOT_LOG_FORMAT or log.format says;
// level info (warn in the console) unless IDPBOT_LOG_LEVEL or log.level
// says. A value it does not know is an error, not a silent default. A
// line logged inside a trace span carries its trace_id and span_id.
func newLogger(cfg *Config, g env, w io.Writer, consoleMode bool) (*slog.Logger, error) {
	level := slog.LevelInfo
	if consoleMode {
		level = slog.LevelWarn
	}
	if s := g.or("IDPBOT_LOG_LEVEL", cfg.Log.Level); s != "" {
		if err := level.UnmarshalText([]byte(s)); err != nil {
			return nil, userError{fmt.Sprintf("log level %q is not one of debug, info, warn, error (IDPBOT_LOG_LEVEL or log.level)", s)}
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	format := g.or("IDPBOT_LOG_FORMAT", cfg.Log.Format)
	if format == "" {
		format = "json"
		if consoleMode || isTerminal(w) {
			format = "text"
		}
	}
	switch format {
	case "json":
		return slog.New(tracing.NewLogHandler(slog.NewJSONHandler(w, opts))), nil
	case "text":
		return slog.New(tracing.NewLogHandler(slog.NewTextHandler(w, opts))), nil
	}
	return nil, userError{fmt.Sprintf("log format %q is not json or text (IDPBOT_LOG_FORMAT or log.format)", format)}
}
