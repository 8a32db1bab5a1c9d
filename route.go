package mailwarden

import (
	"context"
	"errors"
	"log/slog"

	"mailwarden/audit"
)

// sendScope is what one send or probe puts in its context: the tracked
// audit handler that learns of this send's own audit failures, and the
// attributes every record of the send carries.
type sendScope struct {
	tracked *audit.Handler
	attrs   []slog.Attr
}

// noScope is the scope of a send without a trail or attributes; it is
// never put in a context, and never modified.
var noScope sendScope

type scopeKey struct{}

func withScope(ctx context.Context, sc *sendScope) context.Context {
	return context.WithValue(ctx, scopeKey{}, sc)
}

func scopeOf(ctx context.Context) *sendScope {
	sc, _ := ctx.Value(scopeKey{}).(*sendScope)
	return sc
}

// routeHandler is the slog.Handler the transport logs to. It sends each
// record to the audit trail, through the tracked handler of the send whose
// context the record was logged with (so a fail-closed send learns of its
// own failures), and to the program's own handler if any. Every record gets
// the profile name and the send's attributes.
type routeHandler struct {
	trail   *audit.Handler
	extra   slog.Handler
	profile string
	ops     []handlerOp
}

type handlerOp struct {
	group string
	attrs []slog.Attr
}

func (h *routeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.trail != nil || (h.extra != nil && h.extra.Enabled(ctx, l))
}

func (h *routeHandler) build(base slog.Handler, sc *sendScope) slog.Handler {
	attrs := []slog.Attr{slog.String("profile", h.profile)}
	if sc != nil {
		attrs = append(attrs, sc.attrs...)
	}
	out := base.WithAttrs(attrs)
	for _, op := range h.ops {
		if op.group != "" {
			out = out.WithGroup(op.group)
		} else {
			out = out.WithAttrs(op.attrs)
		}
	}
	return out
}

func (h *routeHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := scopeOf(ctx)
	var errs []error
	if h.trail != nil {
		base := h.trail
		if sc != nil && sc.tracked != nil {
			base = sc.tracked
		}
		var err error
		if len(h.ops) == 0 {
			// What build would give (the profile, then the scope's
			// attributes, then the record's), without a derived handler
			// or a copy of the record per record: the trail keeps
			// neither the record nor the attributes.
			var buf [8]slog.Attr
			attrs := append(buf[:0], slog.String("profile", h.profile))
			if sc != nil {
				attrs = append(attrs, sc.attrs...)
			}
			err = base.HandleWith(ctx, r, attrs)
		} else {
			err = h.build(base, sc).Handle(ctx, r.Clone())
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if h.extra != nil && h.extra.Enabled(ctx, r.Level) {
		if err := h.build(h.extra, sc).Handle(ctx, r.Clone()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (h *routeHandler) with(op handlerOp) *routeHandler {
	c := *h
	c.ops = append(append([]handlerOp(nil), h.ops...), op)
	return &c
}

func (h *routeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerOp{attrs: attrs})
}

func (h *routeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(handlerOp{group: name})
}
