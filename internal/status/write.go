package status

import (
	"encoding/json"
	"fmt"
	"github.com/obsdata/dataman/internal/report"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// otherStates are the frame states a channel's line adds in brackets, after
// the counts it always gives.
var otherStates = []string{"delivered", "stored", "young", "new", "refused", "unchecked"}

// Write prints the report for people, or as JSON.
func (r Report) Write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var b strings.Builder
	l := r.Listen
	switch {
	case l.Running:
		fmt.Fprintf(&b, "listen: running, pid %d since %s, %s", l.Pid, stamp(l.Since), l.State)
		if l.Last != "" {
			fmt.Fprintf(&b, ", last %s", l.Last)
		}
		fmt.Fprintf(&b, ", %d queued, %d in progress\n", l.Queue, l.Busy)
	case l.Stale:
		fmt.Fprintf(&b, "listen: not running (its .pid names pid %d, which is gone)\n", l.Pid)
	default:
		b.WriteString("listen: not running\n")
	}
	if l.LatencySeconds > 0 {
		fmt.Fprintf(&b, "last frame: datagram to .new in %.3f s\n", l.LatencySeconds)
	}

	fmt.Fprintf(&b, "night %s:", strings.Join(r.Nights, " "))
	if len(r.Channels) == 0 {
		b.WriteString(" no frames")
	}
	b.WriteString("\n")
	for _, c := range r.Channels {
		fmt.Fprintf(&b, "  %s: %d frames: %d raw, %d stored, %d on newdata, %d taken, %d pending, %d failed, %d lost",
			c.Channel, c.Frames, c.Raw, c.Stored, c.Newdata, c.Count("taken"), c.Count("pending"), c.Count("failed"), c.Count("lost"))
		var others []string
		for _, s := range otherStates {
			if n := c.ByStatus[s]; n > 0 {
				others = append(others, fmt.Sprintf("%d %s", n, s))
			}
		}
		if len(others) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(others, ", "))
		}
		b.WriteString("\n")
		for _, p := range c.Pending {
			fmt.Fprintf(&b, "    pending %s since %s (%s, attempt %d): %s\n", p.File, stamp(p.Since),
				r.Time.Sub(p.Since).Round(time.Second), p.Attempt, p.Reason)
		}
		for _, f := range c.Failed {
			next := "not tried again until the raw file changes"
			if !f.RetryAt.IsZero() {
				next = "tried again at " + stamp(f.RetryAt)
			}
			fmt.Fprintf(&b, "    failed  %s: %s (%s)\n", f.File, f.Reason, next)
		}
		for _, f := range c.Lost {
			fmt.Fprintf(&b, "    lost    %s\n", f)
		}
	}

	for _, s := range r.Space {
		if s.Err != "" {
			fmt.Fprintf(&b, "free space: %s %s: %s\n", s.Key, s.Dir, s.Err)
		} else {
			fmt.Fprintf(&b, "free space: %s %s: %s\n", s.Key, s.Dir, report.Bytes(s.Free))
		}
	}
	if s := r.LastSweep; s == nil {
		b.WriteString("last sweep: none recorded\n")
	} else {
		var did []string
		for _, k := range slices.Sorted(maps.Keys(s.Actions)) {
			did = append(did, fmt.Sprintf("%d %s", s.Actions[k], k))
		}
		what := "nothing to do"
		if len(did) > 0 {
			what = strings.Join(did, ", ")
		}
		fmt.Fprintf(&b, "last sweep: %s (%s ago), nights %s: %s; %d failed, %d deferred, %d failed raw files, %d problems",
			stamp(s.Time), r.Time.Sub(s.Time).Round(time.Second), strings.Join(s.Nights, " "), what,
			s.Failed, s.Deferred, s.FailedRaw, s.Problems)
		if s.Error != "" {
			fmt.Fprintf(&b, "; stopped: %s", s.Error)
		}
		b.WriteString("\n")
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem: %s\n", p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format(time.RFC3339)
}
