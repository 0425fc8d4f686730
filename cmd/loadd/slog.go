package main

import (
	"context"
	"log/slog"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// slogHandler bridges the *slog.Logger that exporter-toolkit wants to the
// go-kit logger the rest of loadd uses.
type slogHandler struct {
	logger log.Logger
	attrs  []any
}

func newSlogHandler(l log.Logger) *slogHandler { return &slogHandler{logger: l} }

// Enabled lets the go-kit level filter decide.
func (h *slogHandler) Enabled(context.Context, slog.Level) bool { return true }

// Handle logs the record through go-kit at the matching level.
func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	kv := append([]any{"msg", r.Message}, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		kv = append(kv, a.Key, a.Value.Any())
		return true
	})
	var l log.Logger
	switch {
	case r.Level >= slog.LevelError:
		l = level.Error(h.logger)
	case r.Level >= slog.LevelWarn:
		l = level.Warn(h.logger)
	case r.Level >= slog.LevelInfo:
		l = level.Info(h.logger)
	default:
		l = level.Debug(h.logger)
	}
	return l.Log(kv...)
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &slogHandler{logger: h.logger, attrs: append([]any(nil), h.attrs...)}
	for _, a := range attrs {
		n.attrs = append(n.attrs, a.Key, a.Value.Any())
	}
	return n
}

// WithGroup ignores groups: exporter-toolkit does not use them.
func (h *slogHandler) WithGroup(string) slog.Handler { return h }
