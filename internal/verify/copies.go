package verify

import (
	"cmp"
	"errors"
	"io/fs"
	"os"

	"github.com/obsdata/dataman/internal/judge"
)

// Stat reports whether the copy exists. A missing copy is flagged on r with
// the ledger's reason, and an unreadable one as an error.
func (c Copy) Stat(r *Result) (os.FileInfo, bool) {
	fi, err := os.Stat(c.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.redo(c.Step, false)
		switch {
		case c.Recorded != nil:
			r.Flag(Missing, "%s %s is gone (the ledger recorded it)", c.Name(), c.Path)
		case c.Why != "":
			r.Flag(Missing, "no %s: %s", c.Name(), c.Why)
		default:
			r.Flag(Missing, "no %s: the ledger has no record of it", c.Name())
		}
		return nil, false
	case err != nil:
		r.Flag(Error, "%s: %v", c.Name(), err)
		return nil, false
	case !fi.Mode().IsRegular():
		r.Flag(Error, "%s %s is not a regular file", c.Name(), c.Path)
		return nil, false
	}
	return fi, true
}

// CheckLedger compares a copy's SHA-256 and size with what the ledger
// recorded when it made the copy.
func (c Copy) CheckLedger(r *Result, sum Sum) {
	if c.Recorded == nil {
		r.redo(c.Step, false)
		what := "the ledger has no record of it"
		if c.Why != "" {
			what = "the ledger says " + c.Why
		}
		r.Flag(Differs, "%s: %s", c.Name(), what)
		return
	}
	ev := *c.Recorded
	ev.Dest = cmp.Or(ev.Dest, c.Path, c.Name()) // the copy read is the one recorded
	// The judge's rule for a copy read whole: its size and SHA-256 against
	// the record (a record without them cannot be held against the copy).
	seen := judge.Seen{Exists: true, Regular: true, Size: sum.Size, MTime: ev.MTime, SHA256: sum.SHA256}
	if ev.OutSize == 0 {
		seen.Size = 0
	}
	if ev.OutSHA256 == "" {
		seen.SHA256 = ""
	}
	if judge.JudgeCopy(ev, seen, c.Name()).State == judge.Damaged {
		r.redo(c.Step, true)
		r.Flag(Differs, "%s: sha256 %s (%d bytes), the ledger recorded %s (%d bytes)",
			c.Name(), short(sum.SHA256), sum.Size, short(ev.OutSHA256), ev.OutSize)
	}
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	if sum == "" {
		return "none"
	}
	return sum
}

// Damaged marks a copy whose content is unsound: the delivery path must
// make it again rather than trust the ledger's record of it.
func (c Copy) Damaged(r *Result, s Status, format string, args ...any) {
	c.Redo(r)
	r.Flag(s, format, args...)
}

// Redo records that the delivery path must make the copy again, voiding the
// ledger's record of it if there is one.
func (c Copy) Redo(r *Result) { r.redo(c.Step, c.Recorded != nil) }
