package server

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// The log limit for what a sender controls: datagrams dropped, refused or
// repeated. A flood of 20,000 datagrams writes a few lines, not 20,000.
const (
	logBurst = 10          // lines of one message let through per interval
	logEvery = time.Minute // the interval
)

// limiter logs the first burst lines of each message per interval and
// counts the rest, which it reports in one line when the interval ends, or
// when the next line of that message comes after it, or at Close.
type limiter struct {
	log   *slog.Logger
	burst int
	every time.Duration
	now   func() time.Time

	mu     sync.Mutex
	kinds  map[string]*window // by message
	closed bool
}

// window is one interval of one message.
type window struct {
	start      time.Time
	level      slog.Level
	n          int // lines in this interval, suppressed or not
	suppressed int
	report     *time.Timer // reports the suppressed lines at the end of the interval
}

func newLimiter(log *slog.Logger, burst int, every time.Duration) *limiter {
	return &limiter{log: log, burst: burst, every: every, now: time.Now, kinds: map[string]*window{}}
}

func (l *limiter) Info(msg string, args ...any) { l.Log(slog.LevelInfo, msg, args...) }
func (l *limiter) Warn(msg string, args ...any) { l.Log(slog.LevelWarn, msg, args...) }

// Log logs msg unless burst lines of it were logged in this interval.
func (l *limiter) Log(level slog.Level, msg string, args ...any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	now := l.now()
	l.mu.Lock()
	w := l.kinds[msg]
	ended, endedLevel := 0, level
	if w != nil && now.Sub(w.start) >= l.every {
		ended, endedLevel = l.end(msg, w), w.level
		w = nil
	}
	if w == nil {
		w = &window{start: now, level: level}
		l.kinds[msg] = w
	}
	w.n++
	pass := w.n <= l.burst || l.closed
	if !pass {
		w.suppressed++
		if w.report == nil {
			w.report = time.AfterFunc(w.start.Add(l.every).Sub(now), func() { l.expire(msg, w) })
		}
	}
	l.mu.Unlock()
	if ended > 0 {
		l.summary(endedLevel, msg, ended)
	}
	if pass {
		l.log.Log(context.Background(), level, msg, args...)
	}
}

// end forgets window w of msg and returns the lines it suppressed. l.mu is held.
func (l *limiter) end(msg string, w *window) int {
	if w.report != nil {
		w.report.Stop()
	}
	delete(l.kinds, msg)
	return w.suppressed
}

func (l *limiter) expire(msg string, w *window) {
	l.mu.Lock()
	n := 0
	if l.kinds[msg] == w {
		n = l.end(msg, w)
	}
	l.mu.Unlock()
	if n > 0 {
		l.summary(w.level, msg, n)
	}
}

func (l *limiter) summary(level slog.Level, msg string, n int) {
	l.log.Log(context.Background(), level, "similar messages suppressed", "count", n, "message", msg, "interval", l.every)
}

// Close reports what is suppressed and lets every later line through, so
// that nothing is logged from a timer once the server has stopped.
func (l *limiter) Close() {
	l.mu.Lock()
	type ended struct {
		msg   string
		level slog.Level
		n     int
	}
	var report []ended
	for _, msg := range slices.Sorted(maps.Keys(l.kinds)) {
		w := l.kinds[msg]
		if n := l.end(msg, w); n > 0 {
			report = append(report, ended{msg, w.level, n})
		}
	}
	l.closed = true
	l.mu.Unlock()
	for _, e := range report {
		l.summary(e.level, e.msg, e.n)
	}
}
