package nightlog

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/preview"
	"github.com/obsdata/dataman/internal/stall"
	"github.com/obsdata/dataman/internal/status"
	"github.com/obsdata/dataman/internal/workers"
)

// Options say where to look. Status.Nights is ignored: a page is of the
// night Build is given.
type Options struct {
	Status status.Options
	// Cache keeps the headers read for the next page; nil reads every
	// header every time.
	Cache *Cache
}

// Page is a night's log.
type Page struct {
	Night   string
	Current bool // the current observing night, which is still growing
	Report  status.Report
	Rows    []Row // newest first
	// Problems are what kept the view or a folder from being seen whole.
	Problems []string
}

// Row is one frame.
type Row struct {
	File    string
	Channel string
	State   string // the judge's word for it (judge.Frame.Status)
	Why     string // for people, when the state is not what it should be
	// From says where the header columns were read ("stored copy", "raw
	// file"); Note why a header could not be read, if one could not.
	From, Note string
	Header     Header
	// Thumb and Preview are the PNG files drawn beside the stored copy,
	// "" when there are none.
	Thumb, Preview string
	when           time.Time // for the order: the exposure start, else the raw file's mtime
}

// Label is the state for people.
func (r Row) Label() string {
	if r.State == "delivered" {
		return "on /newdata"
	}
	return r.State
}

// Build looks at the night and reads the frames' headers: the stored
// copy's, else the raw file's. A file that cannot be read leaves a row
// that says why.
func Build(ctx context.Context, o Options, night string) Page {
	so := o.Status
	so.Nights = []string{night}
	if so.Judge.Watcher == nil {
		so.Judge.Watcher = &stall.Watcher{} // shared by the judge and the reads below
	}
	now := time.Now
	if so.Judge.Now != nil {
		now = so.Judge.Now
	}
	p := Page{Night: night, Current: night == frame.ObsDate(now(), frame.Arizona)}
	r, err := status.Build(ctx, so)
	p.Report = r
	p.Problems = append(p.Problems, r.Problems...)
	if err != nil {
		p.Problems = append(p.Problems, err.Error())
	}
	p.Rows = make([]Row, len(r.Frames))
	for i, f := range r.Frames {
		p.Rows[i] = newRow(f)
	}
	o.Status = so
	p.Problems = append(p.Problems, readHeaders(ctx, o, r.Frames, p.Rows)...)
	slices.SortStableFunc(p.Rows, func(a, b Row) int {
		if c := b.when.Compare(a.when); c != 0 {
			return c
		}
		return cmp.Compare(b.File, a.File)
	})
	return p
}

func newRow(f judge.Frame) Row {
	r := Row{File: f.Name.Base, Channel: f.Name.Upper(), State: f.Status()}
	switch r.State {
	case "delivered", "taken", "stored":
	case "pending":
		pd := status.PendingOf(f)
		r.Why = fmt.Sprintf("dispatch pending since %s (attempt %d): %s", pd.Since.Format(time.RFC3339), pd.Attempt, pd.Reason)
	case "failed":
		fd := status.FailedOf(f)
		r.Why = "conditioning failed: " + fd.Reason
		if !fd.RetryAt.IsZero() {
			r.Why += "; trying again at " + fd.RetryAt.UTC().Format(time.RFC3339)
		}
	default:
		r.Why = f.Why
	}
	if f.Raw.MTime != 0 {
		r.when = time.Unix(0, f.Raw.MTime)
	}
	return r
}

// readHeaders fills the rows' header columns, reading the stored copies
// under procDir's stall timeout and the raw files under their raw folder's,
// each folder once, and finds the previews beside the stored copies.
func readHeaders(ctx context.Context, o Options, frames []judge.Frame, rows []Row) []string {
	jo := o.Status.Judge
	var problems []string
	byDir := map[string][]int{}
	var dirs []string
	for i, f := range frames {
		var dir string
		switch {
		case hasStored(f):
			dir = jo.Layout.ProcDir
		case f.Raw.State == judge.RawPresent:
			dir = filepath.Dir(f.Raw.Path)
		default:
			rows[i].Note = "no stored copy and no raw file to read a header from"
			continue
		}
		if byDir[dir] == nil {
			dirs = append(dirs, dir)
		}
		byDir[dir] = append(byDir[dir], i)
	}
	for _, dir := range dirs {
		idx := byDir[dir]
		limit := jo.RawTimeout
		if dir == jo.Layout.ProcDir {
			limit = jo.ProcTimeout
		}
		reads, err := stall.Do(ctx, jo.Watcher, dir, limit, func(ctx context.Context, tick func()) ([]read, error) {
			out := make([]read, len(idx))
			workers.ForEach(ctx, len(idx), readers, func(k int) {
				out[k] = o.Cache.read(frames[idx[k]])
				tick()
			})
			return out, ctx.Err()
		})
		if err != nil {
			problems = append(problems, fmt.Sprintf("headers in %s: %v", dir, err))
		}
		for k, i := range idx {
			r := &rows[i]
			if err != nil {
				r.Note = fmt.Sprintf("not read: %v", err)
				continue
			}
			rd := reads[k]
			r.From, r.Header, r.Thumb, r.Preview = "raw file", rd.h, rd.thumb, rd.preview
			if hasStored(frames[i]) {
				r.From = "stored copy"
			}
			if rd.err != nil {
				r.Note = fmt.Sprintf("%s unreadable: %v", r.From, rd.err)
			}
			if t, ok := rd.h.Start(); ok {
				r.when = t
			}
		}
	}
	return problems
}

// readers read headers at once: the reads are small, and most of their
// time is parsing cards.
var readers = min(4, runtime.GOMAXPROCS(0))

// read is a frame's header as read, and its previews.
type read struct {
	h              Header
	err            error
	thumb, preview string
}

// hasStored says whether the judge found a stored copy to read: a sound
// one, or one there with other content than recorded (its row then says
// what reading it gives).
func hasStored(f judge.Frame) bool {
	return f.Stored.Path != "" && (f.Stored.State.Sound() || f.Stored.State == judge.Damaged)
}

// previews are the preview files beside a stored copy that are there.
func previews(stored string) (thumb, pre string) {
	pre, thumb = preview.Paths(stored)
	if !isFile(pre) {
		pre = ""
	}
	if !isFile(thumb) {
		thumb = ""
	}
	return thumb, pre
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
