package verify

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/stall"
)

// checkWatched is checkFile under the stall timeout of repoDir, which may
// be a dead NFS mount: a hung read costs the timeout once, and while the
// mount stays dead the other files' checks fail at once with the reason.
func checkWatched(ctx context.Context, o Options, st FrameState) Result {
	if o.RepoTimeout <= 0 {
		return checkFile(o, st, func() {})
	}
	r, err := stall.Do(ctx, o.watcher(), o.Layout.RepoDir, o.RepoTimeout, func(_ context.Context, tick func()) (Result, error) {
		return checkFile(o, st, tick), nil
	})
	if err != nil {
		r = Result{File: st.Label, Status: OK}
		r.Flag(Error, "%v", err)
	}
	return r
}

// checkFile verifies one frame's copies. It only reads.
func checkFile(o Options, st FrameState, tick func()) Result {
	o.tick = tick
	r := Result{File: st.Label, Status: OK}
	stored, dispatched := st.Stored, st.Dispatched
	var si, di os.FileInfo
	haveStored, haveDispatched := false, false
	if st.StoredReused {
		r.Notes = append(r.Notes, "the stored copy "+stored.Path+" is now a later exposure's")
	} else {
		si, haveStored = stored.Stat(&r)
	}
	switch {
	case st.DispatchedReused:
		r.Notes = append(r.Notes, "the dispatched copy "+dispatched.Path+" is gone; the name is now a later exposure's")
	case st.taken():
		r.Notes = append(r.Notes, "the archive took the dispatched copy "+dispatched.Path)
	default:
		di, haveDispatched = dispatched.Stat(&r)
	}
	for _, fi := range []os.FileInfo{si, di} {
		if fi != nil {
			r.Bytes += fi.Size()
		}
	}
	var hdus []*fits.HDU
	var checked Copy
	switch {
	case haveStored && haveDispatched:
		hdus = checkCopies(o, &r, stored, &dispatched)
		checked = stored
	case haveStored:
		hdus = checkCopies(o, &r, stored, nil)
		checked = stored
	case haveDispatched:
		hdus = checkCopies(o, &r, dispatched, nil)
		checked = dispatched
	}
	switch {
	case o.Deep && st.Earlier:
		// Its raw file is now the later exposure's: nothing to recompute
		// MERGED from.
		r.Notes = append(r.Notes, "--deep: not recomputed, the raw file is now a later exposure")
	case o.Deep && hdus != nil:
		deepCheck(o, &r, st, checked, hdus)
	}
	return r
}

// checkCopies reads c, and other if given, once: FITS structure, checksums
// and MERGED header of c, its SHA-256 against the ledger, and other
// compared byte for byte. The HDUs of c are returned if its structure is
// sound.
func checkCopies(o Options, r *Result, c Copy, other *Copy) []*fits.HDU {
	otherPath := ""
	if other != nil {
		otherPath = other.Path
	}
	rd, err := Open(c.Path, otherPath)
	if err != nil {
		r.Flag(Error, "%v", err)
		return nil
	}
	rd.Tick = o.tick
	defer rd.Close()
	redone := len(r.Redo)
	hdus, problems := checkFITS(rd, rd.Size(), o.Proc.MakeOTM)
	sum, err := rd.Finish()
	if err != nil {
		r.Flag(Error, "%v", err)
		return nil
	}
	if r.SHA256 == "" {
		r.SHA256 = sum.SHA256
	}
	setPath(r, c)
	c.CheckLedger(r, sum)
	if other != nil && sum.Identical {
		setPath(r, *other)
		other.CheckLedger(r, sum)
		for _, p := range problems {
			c.Damaged(r, p.status, "both copies: %s", p.what)
			other.Redo(r)
		}
		return hdus
	}
	for _, p := range problems {
		c.Damaged(r, p.status, "%s: %s", c.Name(), p.what)
	}
	if other != nil {
		r.Flag(Differs, "the %s differs from the %s from byte %d on", other.Name(), c.Name(), sum.DifferAt)
		checkCopies(o, r, *other, nil)
		if len(r.Redo) == redone {
			// Both copies look sound and the ledger cannot tell which is
			// right: the stored copy is the source of the dispatched one.
			other.Redo(r)
		}
	}
	return hdus
}

func setPath(r *Result, c Copy) {
	if c.Step == ledger.StepDispatch {
		r.Dispatched = c.Path
	} else {
		r.Stored = c.Path
	}
}

// deepCheck conditions the raw file again, into a temporary file outside
// the tree, and compares MERGED with the checked copy's bit for bit.
func deepCheck(o Options, r *Result, st FrameState, c Copy, hdus []*fits.HDU) {
	have := fits.FindMerged(hdus)
	if have == nil {
		r.Flag(Differs, "--deep: no MERGED extension to compare")
		return
	}
	raw, err := fits.Open(o.Layout.Raw(st.Name))
	if err != nil {
		r.Flag(Error, "--deep: cannot recompute MERGED: raw file: %v", err)
		return
	}
	defer raw.Close()
	tmp, err := os.CreateTemp("", "dataman-verify-*.fits")
	if err != nil {
		r.Flag(Error, "--deep: %v", err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	opts := o.Proc
	opts.MakeOTM, opts.HashRaw = true, true
	res, err := fits.Condition(raw, tmp, opts)
	r.Bytes += raw.Size
	if err != nil {
		r.Flag(Error, "--deep: recomputing MERGED: %v", err)
		return
	}
	if ev, ok := st.Ledger[ledger.StepCondition]; ok && ev.RawSHA256 != "" && ev.RawSHA256 != res.RawSHA256 {
		r.Flag(Differs, "--deep: the raw file changed since it was conditioned (sha256 %.12s…, the ledger recorded %.12s…)", res.RawSHA256, ev.RawSHA256)
	}
	out, err := fits.Scan(tmp, res.OutSize)
	if err != nil {
		r.Flag(Error, "--deep: reading the recomputation: %v", err)
		return
	}
	want := fits.FindMerged(out)
	if want == nil {
		r.Flag(Error, "--deep: the recomputation has no MERGED extension")
		return
	}
	f, err := os.Open(c.Path)
	if err != nil {
		r.Flag(Error, "--deep: %v", err)
		return
	}
	defer f.Close()
	d, err := fits.DiffMergedData(f, have, tmp, want)
	switch {
	case err != nil:
		r.Flag(Error, "--deep: comparing MERGED: %v", err)
	case d != "":
		r.Flag(Differs, "--deep: %s: %s", c.Name(), d)
	}
}

// taken reports a dispatched copy that was delivered and is gone from a
// repoDir with a consumer: the judge's rule, not a problem.
func (st FrameState) taken() bool {
	d := st.Dispatched
	if d.Recorded == nil {
		return false
	}
	_, err := os.Lstat(d.Path)
	if !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	return judge.JudgeNewdata(*d.Recorded, judge.Seen{}, st.Ledger[ledger.StepStore], st.Consumed).State == judge.Taken
}
