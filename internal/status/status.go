package status

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/stall"
	"github.com/obsdata/dataman/sweep"
)

// Options say what to look at.
type Options struct {
	// Judge is how the frames are judged: the layout (its StateDir holds the
	// ledger and the control files), the folders' timeouts, sweep.minAge,
	// whether repoDir has a consumer.
	Judge  judge.Options
	Nights []string // the observing nights to count
	// Alive reports whether process pid exists; nil is kill(pid, 0).
	Alive func(pid int) bool
	// Free is the free space of dir in bytes; nil is statfs.
	Free func(dir string) (int64, error)
}

// Report is the view.
type Report struct {
	Time      time.Time   `json:"time"`
	Nights    []string    `json:"nights"`
	Listen    Listen      `json:"listen"`
	Channels  []Channel   `json:"channels"`
	Space     []Space     `json:"space"`
	LastSweep *sweep.Last `json:"last_sweep"` // nil: no sweep recorded one
	Problems  []string    `json:"problems,omitempty"`
	// Frames are the judged frames the channels count, in the judge's
	// order, for views that list them (the night log).
	Frames []judge.Frame `json:"-"`
}

// Listen is what the control files say of dataman listen.
type Listen struct {
	Running bool      `json:"running"`
	Pid     int       `json:"pid,omitempty"`
	Since   time.Time `json:"since,omitzero"`  // .pid's modification time
	Stale   bool      `json:"stale,omitempty"` // a .pid left by a process that is gone
	State   string    `json:"state,omitempty"` // IDLE, RUNNING…
	Last    string    `json:"last,omitempty"`  // the last file finished
	Queue   int       `json:"queue"`
	Busy    int       `json:"busy"`
	// Latency is the last delivered frame's time from datagram to .new.
	LatencySeconds float64   `json:"latency_seconds,omitempty"`
	Updated        time.Time `json:"updated,omitzero"` // of .status
}

// Channel counts one channel's frames of the nights. A frame counts once in
// ByStatus (its judge.Frame.Status) and in each of Raw, Stored and Newdata
// whose copy it has.
type Channel struct {
	Channel  string         `json:"channel"`
	Frames   int            `json:"frames"`
	Raw      int            `json:"raw"`     // raw file present
	Stored   int            `json:"stored"`  // stored copy sound
	Newdata  int            `json:"newdata"` // copy on repoDir sound
	ByStatus map[string]int `json:"by_status"`
	Pending  []Pending      `json:"pending,omitempty"`
	Failed   []Failed       `json:"failed,omitempty"`
	Lost     []string       `json:"lost,omitempty"`
}

// Count is the number of frames in state s (a judge.Frame.Status word).
func (c Channel) Count(s string) int { return c.ByStatus[s] }

// Pending is a frame whose dispatch waits to be tried again.
type Pending struct {
	File    string    `json:"file"`
	Reason  string    `json:"reason"`
	Since   time.Time `json:"since"` // stored, or first tried, whichever came first
	Attempt int       `json:"attempt"`
}

// Failed is a frame whose raw file could not be conditioned.
type Failed struct {
	File    string    `json:"file"`
	Reason  string    `json:"reason"`
	RetryAt time.Time `json:"retry_at,omitzero"` // zero: not before the raw file changes
}

// Space is a destination's free space.
type Space struct {
	Key  string `json:"key"` // paths.procDir or paths.repoDir
	Dir  string `json:"dir"`
	Free int64  `json:"free_bytes"`
	Err  string `json:"error,omitempty"`
}

// Build looks at everything, changing nothing. Its error is for a view that
// could not be built (the raw folder unreadable, ctx ended); smaller
// troubles are in Problems.
func Build(ctx context.Context, o Options) (Report, error) {
	now := time.Now
	if o.Judge.Now != nil {
		now = o.Judge.Now
	}
	if o.Judge.Watcher == nil {
		o.Judge.Watcher = &stall.Watcher{}
	}
	lay := o.Judge.Layout
	r := Report{Time: now().UTC(), Nights: slices.Clone(o.Nights)}
	r.Listen, r.Problems = listen(lay.StateDir, o.alive)

	v, err := judge.New(o.Judge).Nights(ctx, o.Nights)
	if err != nil {
		return r, err
	}
	r.Problems = append(r.Problems, v.Problems...)
	r.Frames = v.Frames
	r.Channels = count(v.Frames)

	for _, d := range []struct {
		key, dir string
		limit    time.Duration
	}{{"paths.procDir", lay.ProcDir, o.Judge.ProcTimeout}, {"paths.repoDir", lay.RepoDir, o.Judge.RepoTimeout}} {
		s := Space{Key: d.key, Dir: d.dir}
		free, err := stall.Do(ctx, o.Judge.Watcher, d.dir, d.limit, func(context.Context, func()) (int64, error) {
			return o.free(d.dir)
		})
		s.Free = free
		if err != nil {
			s.Err = err.Error()
		}
		r.Space = append(r.Space, s)
	}
	if v.RepoErr != nil && r.Space[1].Err == "" { // else said once, by the space
		r.Problems = append(r.Problems, fmt.Sprintf("repoDir %s: %v", lay.RepoDir, v.RepoErr))
	}

	switch l, err := sweep.ReadLast(lay.StateDir); {
	case err == nil:
		r.LastSweep = &l
	case !errors.Is(err, fs.ErrNotExist):
		r.Problems = append(r.Problems, "last sweep: "+err.Error())
	}
	return r, ctx.Err()
}

func (o Options) alive(pid int) bool {
	if o.Alive != nil {
		return o.Alive(pid)
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM) // EPERM: it exists, run by another user
}

func (o Options) free(dir string) (int64, error) {
	if o.Free != nil {
		return o.Free(dir)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	avail := uint64(st.Bavail) * uint64(st.Bsize)
	return int64(min(avail, math.MaxInt64)), nil
}

// listen reads the control files: .pid and a liveness check of its
// process, then .status.
func listen(stateDir string, alive func(int) bool) (Listen, []string) {
	var l Listen
	pidPath := filepath.Join(stateDir, control.PidFile)
	pid, err := control.ReadPid(stateDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return l, nil
	case err != nil:
		return l, []string{err.Error()}
	}
	l.Pid = pid
	if fi, err := os.Stat(pidPath); err == nil {
		l.Since = fi.ModTime().UTC()
	}
	if !alive(pid) {
		l.Stale = true
		return l, nil
	}
	l.Running = true
	b, err := os.ReadFile(filepath.Join(stateDir, control.StatusFile))
	if err != nil {
		return l, []string{fmt.Sprintf("listen (pid %d) runs but %s: %v", pid, control.StatusFile, err)}
	}
	state, f, err := control.ParseStatus(string(b))
	if err != nil {
		return l, []string{err.Error()}
	}
	l.State, l.Last = state, f["last"]
	l.Queue, _ = strconv.Atoi(f["queue"])
	l.Busy, _ = strconv.Atoi(f["busy"])
	if d, err := time.ParseDuration(f["latency"]); err == nil {
		l.LatencySeconds = d.Seconds()
	}
	if t, err := time.Parse(time.RFC3339, f["updated"]); err == nil {
		l.Updated = t
	}
	return l, nil
}

// count sums the judged frames up by channel, in the judge's order.
func count(frames []judge.Frame) []Channel {
	var out []Channel
	for _, f := range frames {
		if len(out) == 0 || out[len(out)-1].Channel != f.Name.Chan {
			out = append(out, Channel{Channel: f.Name.Chan, ByStatus: map[string]int{}})
		}
		c := &out[len(out)-1]
		c.Frames++
		if f.Raw.State == judge.RawPresent {
			c.Raw++
		}
		if f.Stored.State.Sound() {
			c.Stored++
		}
		if f.Newdata.State.Sound() {
			c.Newdata++
		}
		st := f.Status()
		c.ByStatus[st]++
		switch st {
		case "pending":
			c.Pending = append(c.Pending, PendingOf(f))
		case "failed":
			c.Failed = append(c.Failed, FailedOf(f))
		case "lost":
			c.Lost = append(c.Lost, f.Name.Base)
		}
	}
	return out
}

// FailedOf is a failed frame's reason and when it is due again.
func FailedOf(f judge.Frame) Failed {
	cond := f.Steps[ledger.StepCondition]
	return Failed{File: f.Name.Base, Reason: cond.Reason, RetryAt: f.RetryAt}
}

// PendingOf is a pending frame's reason and age. The ledger keeps the latest
// attempt of each step, so the age runs from when the frame was stored or
// first tried, whichever came first (listen tries /newdata while it stores).
func PendingOf(f judge.Frame) Pending {
	d := f.Steps[ledger.StepDispatch]
	since := d.Time
	if st := f.Steps[ledger.StepStore]; st.Done() && !st.Time.IsZero() && (since.IsZero() || st.Time.Before(since)) {
		since = st.Time
	}
	return Pending{File: f.Name.Base, Reason: d.Reason, Since: since.UTC(), Attempt: d.Attempt}
}
