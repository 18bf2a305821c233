package dmlog

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Options configure a Handler.
type Options struct {
	Dir   string       // the log directory, created if missing
	Host  string       // host name; its first five characters start the file name
	Level slog.Leveler // nil is INFO, dataMan's level without debug
	// Location is the clock of the timestamps, local time as in Python's
	// logging; nil is time.Local.
	Location *time.Location
	// OnError hears about a file that cannot be opened or written, once per
	// file name; the lines meant for it are lost.
	OnError func(error)
}

// Handler is a slog.Handler writing dataMan's log file.
type Handler struct {
	out   *file
	inner slog.Handler // formats the attributes, with the groups and attrs of WithAttrs/WithGroup
}

// file is what all handlers derived from one New share.
type file struct {
	opts   Options
	mu     sync.Mutex
	buf    bytes.Buffer // inner's output for the record being written
	name   string       // the file open now
	f      *os.File
	failed string // the name last reported to OnError
}

// New returns a handler that writes to the file of each record's observing
// date, opening (appending) and switching files as that date changes.
func New(opts Options) *Handler {
	if opts.Level == nil {
		opts.Level = slog.LevelInfo
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	out := &file{opts: opts}
	inner := slog.NewTextHandler(&out.buf, &slog.HandlerOptions{
		Level: slog.LevelDebug - 100, // Enabled below decides
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{}
			}
			return a
		},
	})
	return &Handler{out: out, inner: inner}
}

// FileName is the name dataMan gives the log of observing date date
// (CCYYMMDD) on host.
func FileName(host, date string) string {
	if len(host) > 5 {
		host = host[:5]
	}
	return host + "dm." + date + ".txt"
}

// Path is the file a record at t goes to.
func (h *Handler) Path(t time.Time) string {
	return filepath.Join(h.out.opts.Dir, FileName(h.out.opts.Host, ObsDate(t)))
}

// arizona is the servers' clock for the observing date, whatever the zone
// of the machine dataman runs on: Arizona keeps UTC−7 all year.
var arizona = time.FixedZone("MST", -7*3600)

// ObsDate is the observing date of dataMan's obsDate() and azcam's
// utcObsDate(): the UTC date, except that from 12:00 to 17:00 Arizona time
// (afternoon calibrations) it is the next day's.
func ObsDate(t time.Time) string {
	u := t.UTC()
	if h := t.In(arizona).Hour(); h >= 12 && h < 17 {
		u = u.AddDate(0, 0, 1)
	}
	return u.Format("20060102")
}

func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.out.opts.Level.Level()
}

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{out: h.out, inner: h.inner.WithAttrs(as)}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{out: h.out, inner: h.inner.WithGroup(name)}
}

// Handle writes one line. A message with attributes reads
// "message key=value …", the attributes formatted as slog's TextHandler does.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	t := r.Time
	if t.IsZero() {
		t = time.Now()
	}
	o := h.out
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	attrs := bytes.TrimRight(o.buf.Bytes(), "\n")
	var line bytes.Buffer
	line.WriteString(t.In(o.opts.Location).Format("2006-01-02 15:04:05,000"))
	line.WriteString(" | " + levelName(r.Level) + " | " + r.Message)
	if len(attrs) > 0 {
		line.WriteByte(' ')
		line.Write(attrs)
	}
	line.WriteByte('\n')
	return o.write(h.Path(t), line.Bytes())
}

// write appends one line with one write, so that lines of processes
// sharing the file do not interleave.
func (o *file) write(name string, line []byte) error {
	// A file that failed to open is tried again on the next line: the
	// disk may have been remounted meanwhile.
	if name != o.name || o.f == nil {
		if o.f != nil {
			o.f.Close()
			o.f = nil
		}
		o.name = name
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return o.fail(err)
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return o.fail(err)
		}
		o.f = f
	}
	if _, err := o.f.Write(line); err != nil {
		return o.fail(fmt.Errorf("log file %s: %w", name, err))
	}
	return nil
}

func (o *file) fail(err error) error {
	if o.failed != o.name && o.opts.OnError != nil {
		o.failed = o.name
		o.opts.OnError(err)
	}
	return err
}

// Close closes the file open now; a later record opens it again.
func (h *Handler) Close() error {
	o := h.out
	o.mu.Lock()
	defer o.mu.Unlock()
	o.name = ""
	if o.f == nil {
		return nil
	}
	err := o.f.Close()
	o.f = nil
	return err
}

// levelName spells levels as Python's logging does.
func levelName(l slog.Level) string {
	switch l {
	case slog.LevelDebug:
		return "DEBUG"
	case slog.LevelInfo:
		return "INFO"
	case slog.LevelWarn:
		return "WARNING"
	case slog.LevelError:
		return "ERROR"
	}
	return l.String()
}
