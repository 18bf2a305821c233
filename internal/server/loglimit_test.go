package server

import (
	"log/slog"
	"testing"
	"time"
)

// attr returns the value of key in the records of msg, in order.
func (h *listenLog) attrs(msg, key string) []slog.Value {
	h.mu.Lock()
	defer h.mu.Unlock()
	var vs []slog.Value
	for _, r := range h.records {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				vs = append(vs, a.Value)
			}
			return true
		})
	}
	return vs
}

// atLeast counts the records of msg ("": of any message) at level or above.
func (h *listenLog) atLeast(level slog.Level, msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level >= level && (msg == "" || r.Message == msg) {
			n++
		}
	}
	return n
}

func TestLimiter(t *testing.T) {
	h := newListenLog()
	l := newLimiter(slog.New(h), 3, time.Hour)
	now := time.Date(2026, 1, 19, 3, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	for i := range 1000 {
		l.Warn("datagram dropped", "i", i)
	}
	l.Info("already queued or in progress")
	if n := h.count("datagram dropped"); n != 3 {
		t.Errorf("%d lines of a flood let through, want 3", n)
	}
	if n := h.count("already queued or in progress"); n != 1 {
		t.Errorf("another message: %d lines, want 1", n)
	}
	if n := h.count("similar messages suppressed"); n != 0 {
		t.Errorf("suppressed lines reported before the interval ended")
	}

	// The first line after the interval reports the suppressed ones first.
	now = now.Add(time.Hour)
	l.Warn("datagram dropped", "i", 1000)
	counts := h.attrs("similar messages suppressed", "count")
	if len(counts) != 1 || counts[0].Int64() != 997 {
		t.Fatalf("suppressed counts %v, want [997]", counts)
	}
	if m := h.attrs("similar messages suppressed", "message"); m[0].String() != "datagram dropped" {
		t.Errorf("the report names %q", m[0])
	}
	if n := h.count("datagram dropped"); n != 4 {
		t.Errorf("%d lines after a new interval began, want 4", n)
	}

	// Close reports what is left and lets everything through after.
	for range 5 {
		l.Warn("datagram dropped")
	}
	l.Close()
	counts = h.attrs("similar messages suppressed", "count")
	if len(counts) != 2 || counts[1].Int64() != 3 {
		t.Fatalf("suppressed counts after Close %v, want [997 3]", counts)
	}
	l.Warn("datagram dropped")
	if n := h.count("datagram dropped"); n != 7 {
		t.Errorf("%d lines after Close, want 7", n)
	}
}

// Without another line to carry it, the report comes when the interval ends.
func TestLimiterReportsAtIntervalEnd(t *testing.T) {
	h := newListenLog()
	l := newLimiter(slog.New(h), 1, 10*time.Millisecond)
	now := time.Now()
	l.now = func() time.Time { return now } // one interval, however slow the machine
	defer l.Close()
	for range 5 {
		l.Warn("quit refused: sender not in server.quitPeers")
	}
	h.waitFor(t, "similar messages suppressed", 1)
	if c := h.attrs("similar messages suppressed", "count"); c[0].Int64() != 4 {
		t.Errorf("reported %v suppressed, want 4", c[0])
	}
}
