package status

import (
	"fmt"
	"github.com/obsdata/dataman/internal/report"
	"strings"
	"time"
)

// The Nagios/Icinga plugin return codes.
const (
	OK       = 0
	Warning  = 1
	Critical = 2
	Unknown  = 3
)

var codeNames = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// Thresholds are status.* of the config: past a Warn value the check says
// WARNING, past a Crit value CRITICAL; 0 turns one off.
type Thresholds struct {
	PendingWarn, PendingCrit time.Duration // a dispatch pending this long
	MinFreeWarn, MinFreeCrit int64         // fewer bytes free on procDir or repoDir
}

// Check is the plugin's answer: the code and its one line, "DATAMAN STATE -
// text | perfdata". listen not running, a pending dispatch older than
// PendingCrit, free space below MinFreeCrit or a destination that cannot be
// looked at are CRITICAL; the lesser thresholds, a failed frame, frames
// that could not be checked and other problems WARNING.
func Check(r Report, t Thresholds) (int, string) {
	code := OK
	var crit, warn []string
	raise := func(c int, msg string) {
		code = max(code, c)
		if c == Critical {
			crit = append(crit, msg)
		} else {
			warn = append(warn, msg)
		}
	}

	switch l := r.Listen; {
	case l.Stale:
		raise(Critical, fmt.Sprintf("listen not running (pid %d is gone)", l.Pid))
	case !l.Running:
		raise(Critical, "listen not running")
	}

	var frames, delivered, taken, pending, failed, lost, unchecked int
	var oldest Pending
	for _, c := range r.Channels {
		frames += c.Frames
		delivered += c.Count("delivered")
		taken += c.Count("taken")
		failed += len(c.Failed)
		lost += len(c.Lost)
		unchecked += c.Count("unchecked")
		for _, p := range c.Pending {
			pending++
			if oldest.File == "" || p.Since.Before(oldest.Since) {
				oldest = p
			}
		}
	}
	var age time.Duration
	if pending > 0 {
		age = max(r.Time.Sub(oldest.Since), 0)
		msg := fmt.Sprintf("%d dispatch pending, oldest %s for %s: %s", pending, oldest.File, age.Round(time.Second), oldest.Reason)
		switch {
		case t.PendingCrit > 0 && age >= t.PendingCrit:
			raise(Critical, msg)
		case t.PendingWarn > 0 && age >= t.PendingWarn:
			raise(Warning, msg)
		}
	}
	if failed > 0 {
		raise(Warning, fmt.Sprintf("%d failed frames", failed))
	}
	if unchecked > 0 {
		raise(Warning, fmt.Sprintf("%d frames could not be checked", unchecked))
	}
	for _, s := range r.Space {
		switch {
		case s.Err != "":
			raise(Critical, fmt.Sprintf("%s: %s", s.Key, s.Err))
		case t.MinFreeCrit > 0 && s.Free < t.MinFreeCrit:
			raise(Critical, fmt.Sprintf("%s %s has %s free", s.Key, s.Dir, report.Bytes(s.Free)))
		case t.MinFreeWarn > 0 && s.Free < t.MinFreeWarn:
			raise(Warning, fmt.Sprintf("%s %s has %s free", s.Key, s.Dir, report.Bytes(s.Free)))
		}
	}
	if n := len(r.Problems); n > 0 {
		raise(Warning, fmt.Sprintf("%d problems: %s", n, r.Problems[0]))
	}

	text := strings.Join(append(crit, warn...), "; ")
	if text == "" {
		text = fmt.Sprintf("listen running (pid %d, %s); %d frames of %s: %d delivered, %d taken", r.Listen.Pid,
			r.Listen.State, frames, strings.Join(r.Nights, " "), delivered, taken)
	}
	listen := 0
	if r.Listen.Running {
		listen = 1
	}
	perf := []string{
		fmt.Sprintf("listen=%d;;;0;1", listen),
		fmt.Sprintf("frames=%d;;;0", frames),
		fmt.Sprintf("delivered=%d;;;0", delivered),
		fmt.Sprintf("taken=%d;;;0", taken),
		fmt.Sprintf("pending=%d;;;0", pending),
		fmt.Sprintf("pending_age=%ds;%s;%s;0", int64(age.Seconds()), secs(t.PendingWarn), secs(t.PendingCrit)),
		fmt.Sprintf("failed=%d;;;0", failed),
		fmt.Sprintf("lost=%d;;;0", lost),
		fmt.Sprintf("queue=%d;;;0", r.Listen.Queue),
	}
	if r.Listen.LatencySeconds > 0 {
		perf = append(perf, fmt.Sprintf("latency=%.3fs;;;0", r.Listen.LatencySeconds))
	}
	for _, s := range r.Space {
		if s.Err == "" {
			name := strings.TrimSuffix(strings.TrimPrefix(s.Key, "paths."), "Dir")
			perf = append(perf, fmt.Sprintf("free_%s=%dB;%s;%s;0", name, s.Free, below(t.MinFreeWarn), below(t.MinFreeCrit)))
		}
	}
	return code, fmt.Sprintf("DATAMAN %s - %s | %s", codeNames[code], plain(text), strings.Join(perf, " "))
}

// Unknowable is the plugin's answer when no view could be built.
func Unknowable(err error) (int, string) {
	return Unknown, "DATAMAN UNKNOWN - " + plain(err.Error())
}

// plain keeps the text to one line and out of the performance data, which
// begins at the first "|".
func plain(s string) string {
	return strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", "/")
}

func secs(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return fmt.Sprint(int64(d.Seconds()))
}

// below is a threshold range that alerts below n (Nagios "n:").
func below(n int64) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("%d:", n)
}
