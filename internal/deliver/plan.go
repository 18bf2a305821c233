package deliver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
)

// plan is Ensure in a dry run: it asks the judge, as Ensure does, and says
// what Ensure would do, but never writes: the ledger is read, not opened,
// since opening would create it.
func (d *Deliverer) plan(ctx context.Context, n frame.Name, how Mode, rep *Report) error {
	var h ledger.FileHistory
	if l, err := ledger.OpenReadOnly(d.opts.StateDir, n.Chan); err == nil {
		h.Generations, h.Current = l.Generations(n.Base)
	}
	kind := how.kind()
	j := &job{d: d, n: n, how: how, rep: rep, damaged: map[string]bool{}}
	j.judge(ctx, d.judge.Frame(ctx, n, h))
	v := j.v
	if v.Raw.State == judge.RawRefused && kind != DispatchOnly {
		return fmt.Errorf("%s: raw: %s: %w", n.Base, v.Raw.Why, ErrRefused)
	}
	switch v.Identity {
	case judge.NewExposure:
		j.action("new exposure under a known name: %s is not the raw file conditioned before", v.Raw.Path)
	case judge.RawRestamp:
		j.action("would record the raw file's new mtime (content as conditioned)")
	}
	stored, storeOK := j.judgedStore()
	if storeOK {
		if v.Stored.State == judge.Restamped {
			j.action("would record the stored copy's new mtime (content as recorded)")
		}
		switch {
		case kind == Archive:
			return j.already("already stored", stored, "")
		case v.Newdata.State == judge.Intact:
			return j.already(map[bool]string{true: "already dispatched", false: "already delivered"}[kind == DispatchOnly], stored, v.Newdata.Path)
		case v.Newdata.State == judge.Taken && how&Redeliver == 0:
			return j.already("already delivered; the archive took the copy from "+d.opts.RepoDir, stored, "")
		}
		j.action("would use stored copy %s", stored.path)
	} else {
		if err := j.failedBefore(); err != nil {
			return err
		}
		switch {
		case kind == DispatchOnly:
			path := d.opts.Stored(n)
			if ev := j.state[ledger.StepStore]; ev.Done() && ev.Dest != "" {
				path = ev.Dest
			}
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("%s: dispatch: %w", n.Base, err)
			}
			j.action("would check and use stored copy %s", path)
		case v.Raw.State != judge.RawPresent:
			return fmt.Errorf("%s: condition: raw file %s: %s", n.Base, v.Raw.Path, cmpOr(v.Raw.Why, "no such file or directory"))
		default:
			j.action("would condition %s (%s)", v.Raw.Path, v.Why)
			j.action("would store %s%s", d.opts.Stored(n), exists(d.opts.Stored(n), d.opts.Proc.Collision))
		}
	}
	if kind == Archive {
		return nil
	}
	if _, err := os.Stat(d.opts.RepoDir); err != nil {
		rep.Pending = true
		j.action("dispatch would be pending: %v", err)
		return nil
	}
	j.action("would dispatch %s%s", d.opts.Dispatched(n), exists(d.opts.Dispatched(n), d.opts.Repo.Collision))
	j.action("would update %s", d.opts.LastFile(n))
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func exists(path string, pol Policy) string {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return fmt.Sprintf(" (a file is there: kept if identical, else collision policy %s)", pol)
}
