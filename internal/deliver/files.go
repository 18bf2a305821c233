package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/place"
)

// chunk is the unit of copying and hashing, and so of progress for the
// destination timeout.
const chunk = 1 << 20

// stored is the outcome of the store step, filled as far as it got.
type stored struct {
	cleaned     []string
	conditioned bool
	info        RawInfo
	condTime    time.Duration
	sum         string
	size        int64
	path        string
	mtime       int64
	already     bool
}

func (j *job) syncTemp(f *atomicfile.File) error {
	if err := j.d.inject("sync", f.Name()); err != nil {
		return err
	}
	return f.Sync()
}

// placeStored commits the synced temporary f, whose digest is h, as the
// stored copy in dir.
func (j *job) placeStored(ctx context.Context, tick func(), f *atomicfile.File, dir string, out *stored, h digest) error {
	var err error
	out.path, out.already, err = j.place(ctx, tick, f, dir, out.info.UniqName, j.d.opts.Proc.Collision, h)
	if err != nil {
		return err
	}
	if !out.already {
		crash("store/after-rename")
	}
	out.mtime, err = mtime(out.path)
	return err
}

// awaitWithin waits for ch to be closed for at most d (for ever if d < 0),
// calling tick every 10 ms meanwhile, and reports whether it was.
func awaitWithin(ch <-chan struct{}, d time.Duration, tick func()) bool {
	var limit <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		limit = t.C
	}
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-ch:
			return true
		case <-ticker.C:
			tick()
		case <-limit:
			select {
			case <-ch:
				return true
			default:
				return false
			}
		}
	}
}

// awaitTicking waits for a value from ch, or for ch to be closed, calling
// tick every 10 ms meanwhile: waiting on an operation watched elsewhere is
// not a stall of the caller's own.
func awaitTicking[T any](ctx context.Context, ch <-chan T, tick func()) (T, error) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case v := <-ch:
			return v, nil
		case <-t.C:
			tick()
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}

// enterRepo checks that repoDir is there and, the first time, rids it of
// stale temporaries, which it returns. A missing repoDir is most often an
// NFS share that is not mounted: creating it would fill the local disk
// underneath the mount point.
func (d *Deliverer) enterRepo(tick func()) ([]string, error) {
	repo := d.opts.RepoDir
	if err := d.inject("stat", repo); err != nil {
		return nil, err
	}
	if _, err := os.Stat(repo); err != nil {
		return nil, err
	}
	tick()
	return d.cleanOnce(repo), nil
}

// outputEstimate is the size a conditioned file is expected to have, for the
// free-space guards: about three times the raw file, since the raw int16
// images are kept and the float32 MERGED mosaic is added.
func outputEstimate(rawSize int64) int64 { return 3 * rawSize }

// makeStoreDir creates <procDir>/<obsdate>. The explicit chmod is because the
// umask would otherwise drop the group write bit.
func (d *Deliverer) makeStoreDir(dir string) error {
	if err := d.inject("mkdir", dir); err != nil {
		return err
	}
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o775); err != nil {
		return err
	}
	return os.Chmod(dir, 0o775)
}

// dispatched is the outcome of the dispatch step.
type dispatched struct {
	cleaned []string
	path    string
	mtime   int64
	already bool
	keptNew string // <CHAN>.new was left naming this newer frame
}

// copyToRepo runs in a watched goroutine, like conditionAndStore.
func (j *job) copyToRepo(ctx context.Context, tick func(), src source) (dispatched, error) {
	d := j.d
	repo := d.opts.RepoDir
	var out dispatched
	var err error
	if out.cleaned, err = d.enterRepo(tick); err != nil {
		return out, err
	}
	want := digest{sum: src.sum, size: src.size}
	target, how, err := j.choose(ctx, tick, repo, src.uniq, d.opts.Repo.Collision, want)
	if err != nil {
		return out, err
	}
	if how == place.Identical {
		out.path, out.already = target, true
	} else {
		if out.path, out.already, err = j.copyFile(ctx, tick, src, filepath.Base(target)); err != nil {
			return out, err
		}
	}
	return out, j.announce(ctx, &out, src.uniq)
}

// announce finishes a dispatch whose copy is in place at out.path: it
// records its mtime and points <CHAN>.new at it. uniq is the frame's
// UNIQNAME, which says when it was exposed.
func (j *job) announce(ctx context.Context, out *dispatched, uniq string) error {
	d := j.d
	var err error
	if out.mtime, err = mtime(out.path); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// .new is written only after the copy is in place under its final name,
	// and names that name, which is not always the raw file's.
	last := d.opts.LastFile(j.n)
	crash("dispatch/before-new")
	if err := d.inject("new", last); err != nil {
		return err
	}
	if out.keptNew, err = j.updateLastFile(last, filepath.Base(out.path), uniq); err != nil {
		return err
	}
	crash("dispatch/after-new")
	return nil
}

// updateLastFile points <CHAN>.new at name unless the frame it names is
// newer, which it then returns, so that modsDisp follows the night:
//
//   - a frame the camera server announced (a datagram) is the newest, and
//     replaces whatever .new names, except a frame announced later (two
//     workers finishing out of order);
//   - a backfilled or repaired frame replaces it only if it was exposed
//     later (by the exposure start its UNIQNAME encodes; by observing date
//     and sequence when either is unknown).
//
// So a frame with a wrong date in its name, or a sequence number reset,
// cannot freeze .new. Reading and replacing the file is one step under an
// flock in the state folder, so that two dispatches of the same channel, in
// one process (jobs > 1) or two (listen and a sweep), cannot both read the
// old name and write in the wrong order. The time of the last announced
// frame is kept beside the lock.
func (j *job) updateLastFile(last, name, uniq string) (string, error) {
	base := filepath.Join(j.d.opts.StateDir, "lastfile-"+j.n.Upper())
	lock, err := os.OpenFile(base+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("lock for %s: %w", last, err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock for %s: %w", last, err)
	}
	named := ""
	if b, err := os.ReadFile(last); err == nil {
		named = strings.TrimSpace(string(b))
	}
	if named != "" && named != name && !j.replaces(named, uniq, readAnnounced(base+".announced", named)) {
		return named, nil
	}
	if err := atomicfile.WriteFile(last, []byte(name+"\n"), 0o644); err != nil {
		return "", err
	}
	if !j.announced.IsZero() {
		line := name + " " + j.announced.UTC().Format(time.RFC3339Nano) + "\n"
		if err := atomicfile.WriteFile(base+".announced", []byte(line), 0o644); err != nil {
			j.d.log.Warn("recording the announced frame", "file", j.n.Base, "err", err)
		}
	}
	return "", nil
}

// readAnnounced is when the frame named was announced, if the record
// beside the lock is about it.
func readAnnounced(path, named string) time.Time {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}
	}
	name, at, ok := strings.Cut(strings.TrimSpace(string(b)), " ")
	if !ok || name != named {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, at)
	return t
}

// replaces says whether this frame, whose UNIQNAME is uniq, may replace
// the frame named, announced at curAnnounced (zero: unknown).
func (j *job) replaces(named, uniq string, curAnnounced time.Time) bool {
	if !j.announced.IsZero() {
		return curAnnounced.IsZero() || !curAnnounced.After(j.announced)
	}
	mine, ok1 := frame.UniqTime(uniq)
	then, ok2 := frame.UniqTime(named)
	if ok1 && ok2 {
		return mine.After(then)
	}
	cur, curUniq, known := j.frameOf(named)
	if !ok2 {
		then, ok2 = frame.UniqTime(curUniq)
	}
	switch {
	case ok1 && ok2:
		return mine.After(then)
	case !known || cur.Chan != j.n.Chan:
		return true
	}
	return j.n.ObsDate > cur.ObsDate || (j.n.ObsDate == cur.ObsDate && j.n.Seq > cur.Seq)
}

// frameOf finds the raw frame delivered under the name named, and its
// UNIQNAME: the name itself when it is a raw file's, else the frame of this
// night whose dispatch the ledger records under that name.
func (j *job) frameOf(named string) (frame.Name, string, bool) {
	if n, err := frame.ParseName(named); err == nil {
		uniq := ""
		if j.lg != nil {
			uniq = j.lg.State(named)[ledger.StepCondition].Extra["uniqname"]
		}
		return n, uniq, true
	}
	if j.lg == nil {
		return frame.Name{}, "", false
	}
	for file, h := range j.lg.Night(j.n.ObsDate) {
		for _, g := range h.Generations {
			if filepath.Base(g.Steps[ledger.StepDispatch].Dest) == named {
				n, err := frame.ParseName(file)
				return n, g.Steps[ledger.StepCondition].Extra["uniqname"], err == nil
			}
		}
	}
	return frame.Name{}, "", false
}

// copyFile copies the stored file into a temporary in repoDir, hashing what it
// writes, and commits it only if the hash is the stored copy's.
func (j *job) copyFile(ctx context.Context, tick func(), src source, name string) (string, bool, error) {
	d := j.d
	repo := d.opts.RepoDir
	if err := d.checkSpace(repo, src.size, d.opts.Repo.MinFree); err != nil {
		return "", false, err
	}
	in, err := os.Open(src.path)
	if err != nil {
		return "", false, fmt.Errorf("%w: %w", errNoSource, err)
	}
	defer in.Close()
	if err := d.inject("create", repo); err != nil {
		return "", false, err
	}
	f, err := atomicfile.Create(repo, name, 0o644)
	if err != nil {
		return "", false, err
	}
	defer f.Abort()
	crash("dispatch/after-temp-create")

	// The bytes written are hashed on a second goroutine while the next
	// chunks are read and written: SHA-256 costs as much as the copy itself.
	sum, size, err := copyHashing(ctx, f, in, func() error { return d.inject("write", f.Name()) }, tick)
	if err != nil {
		return "", false, err
	}
	crash("dispatch/after-write")
	got := digest{sum: sum, size: size}
	if got != (digest{sum: src.sum, size: src.size}) {
		return "", false, fmt.Errorf("copy of %s to %s has sha256 %s and %d bytes, want %s and %d bytes: %w",
			src.path, repo, got.sum, got.size, src.sum, src.size, ErrChecksum)
	}
	if err := d.inject("sync", f.Name()); err != nil {
		return "", false, err
	}
	if err := f.Sync(); err != nil {
		return "", false, err
	}
	crash("dispatch/after-fsync")
	path, already, err := j.place(ctx, tick, f, repo, src.uniq, d.opts.Repo.Collision, got)
	if err == nil && !already {
		crash("dispatch/after-rename")
	}
	return path, already, err
}

// target is where this job's file goes in dir: place's rule, with the
// delivery path's own fault injection and stall timer, and one rule more: a
// copy the ledger records as this file's own is replaced when damaged.
func (j *job) target(ctx context.Context, tick func(), dir, uniq string, pol Policy) place.Target {
	return place.Target{
		Dir: dir, Base: j.n.Base, Uniq: uniq, Policy: pol,
		Own:   func(path string) bool { return j.ownDamaged(ctx, path) },
		Taken: func(path string) { j.d.log.Warn("name taken by a different file", "path", path) },
		Check: j.d.inject,
		Tick:  tick,
	}
}

func (j *job) choose(ctx context.Context, tick func(), dir, uniq string, pol Policy, h digest) (string, place.How, error) {
	return j.target(ctx, tick, dir, uniq, pol).Choose(ctx, h.content())
}

func (j *job) place(ctx context.Context, tick func(), f *atomicfile.File, dir, uniq string, pol Policy, h digest) (string, bool, error) {
	return j.target(ctx, tick, dir, uniq, pol).Place(ctx, f, h.content())
}

// ownDamaged reports whether path is a copy the ledger records for this
// file: other bytes there mean it was damaged, and a rename would leave the
// damage in place.
//
// It is asked from the goroutines watched on a folder, which may outlive
// the job (see job.mu); one whose ctx is done (abandoned, or the job given
// up) commits nothing, so it reports no repair either.
func (j *job) ownDamaged(ctx context.Context, path string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.ownCopy(path) {
		return false
	}
	if ctx.Err() == nil && !j.damaged[path] {
		j.d.log.Warn("replacing a damaged copy", "file", j.n.Base, "path", path)
		j.actionLocked("replacing damaged copy %s", path)
		j.damaged[path] = true
	}
	return true
}

// ownCopy reports whether path is a copy of this exposure's: one its
// ledger events record, unless a later exposure of the name recorded a
// copy there since. The ledger is read again rather than the judge's view
// of it, because this run may have dispatched an earlier exposure there
// meanwhile. Outside the job's goroutine, it is called under j.mu.
func (j *job) ownCopy(path string) bool {
	hist, gen := j.v.History, j.v.Gen
	if j.v.Identity == judge.NewExposure {
		gen = -1
	}
	if j.lg != nil && j.rawSHA != "" {
		gens, cur := j.lg.Generations(j.n.Base)
		hist, gen = ledger.FileHistory{Generations: gens, Current: cur}, -1
		for i, g := range gens {
			if g.RawSHA256 == j.rawSHA {
				gen = i
			}
		}
	}
	if judge.OwnedLater(hist, gen, path) {
		return false // another exposure of the name has it now
	}
	for _, ev := range j.state {
		if ev.Dest == path {
			return true
		}
	}
	// A copy the generation made before a later event of its step stopped
	// naming it (a dispatch pending since) is still its own.
	if gen >= 0 && gen < len(hist.Generations) {
		_, ok := hist.Generations[gen].Copies[path]
		return ok
	}
	return false
}

// digest is a file's SHA-256 (hex) and size.
type digest struct {
	sum  string
	size int64
}

func (h digest) content() *place.Content {
	return place.Known(place.Digest{Sum: h.sum, Size: h.size})
}

func hashPath(ctx context.Context, path string, tick func()) (digest, error) {
	h, err := place.HashPath(ctx, path, tick)
	return digest{sum: h.Sum, size: h.Size}, err
}

// hashFile hashes f from its start with ReadAt, leaving its offset alone.
func hashFile(ctx context.Context, f *os.File, tick func()) (digest, error) {
	h, err := place.HashFile(ctx, f, tick)
	return digest{sum: h.Sum, size: h.Size}, err
}

func mtime(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.ModTime().UnixNano(), nil
}

// storeError is a failure of the destination, not of the raw file: a full
// or read-only store, a temporary that cannot be made or written. The file
// is not counted as one that cannot be conditioned.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

func wrapStore(err error) error {
	if err == nil {
		return nil
	}
	return storeError{err}
}

// copyHashing copies src to dst in chunks and returns the SHA-256 of the
// bytes written. Each chunk is hashed on another goroutine after it was
// written, from its own buffer, while the next ones are read and written.
func copyHashing(ctx context.Context, dst io.Writer, src io.Reader, before func() error, tick func()) (string, int64, error) {
	const buffers = 4
	free := make(chan []byte, buffers)
	for range buffers {
		free <- make([]byte, chunk)
	}
	written := make(chan []byte, buffers)
	hashed := make(chan string, 1)
	go func() {
		h := sha256.New()
		for b := range written {
			h.Write(b)
			free <- b[:cap(b)]
		}
		hashed <- hex.EncodeToString(h.Sum(nil))
	}()
	var size int64
	err := func() error {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			buf := <-free
			n, rerr := src.Read(buf)
			if n > 0 {
				if err := before(); err != nil {
					return err
				}
				if _, err := dst.Write(buf[:n]); err != nil {
					return err
				}
				written <- buf[:n]
				size += int64(n)
				tick()
			} else {
				free <- buf
			}
			if rerr == io.EOF {
				return nil
			}
			if rerr != nil {
				return rerr
			}
		}
	}()
	close(written)
	sum := <-hashed
	return sum, size, err
}
