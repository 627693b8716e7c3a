package pipeline

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// diagHandler prints the revoker's log as leakstop diagnostics:
// "leakstop: warning: msg (key=value …)". Nothing secret is logged.
type diagHandler struct {
	mu    *sync.Mutex
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
}

func (h *diagHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *diagHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("leakstop: ")
	switch {
	case r.Level >= slog.LevelError:
		b.WriteString("error: ")
	case r.Level >= slog.LevelWarn:
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	var kv []string
	add := func(a slog.Attr) bool {
		kv = append(kv, a.Key+"="+a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if len(kv) > 0 {
		b.WriteString(" (" + strings.Join(kv, " ") + ")")
	}
	b.WriteString("\n")
	if h.mu != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
	}
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *diagHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *diagHandler) WithGroup(string) slog.Handler { return h }
