package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
)

// The delivery of a frame with no stored copy is one conditioning pass. The
// conditioner writes its bytes, in order, into a stream; the stream writes
// each piece to the stored temporary at once, hashes it (the SHA-256 the
// ledger records) and hands a copy to the dispatch side, which writes it to
// the /newdata temporary on its own goroutine, watched on repoDir. The store
// side never waits on repoDir for longer than delivery.repo.timeout: a
// repository that stops taking pieces for that long is dropped, its folder
// counts as stuck, and the stored copy is finished alone.
//
// The dispatched copy is proven to hold the stored copy's bytes before its
// rename: each side keeps a CRC-32C of the bytes its write calls accepted,
// the dispatch side from the buffers it wrote, after the store side had moved
// on, and both files' sizes on disk are compared with the stream's length.
// That guards the tee itself (a buffer reused before it was written, a piece
// dropped or written twice) and a file that was cut or grown by anyone else
// between the write and the rename; the SHA-256 recorded is of the same
// bytes. What it cannot see is a disk that later returns other bytes than it
// was given: that is verify's job, which reads every copy back.

// pieces is the number of buffers of chunk bytes in flight to the dispatch
// side: enough to keep it writing while the conditioner computes.
const pieces = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// repoFeed is the dispatch side of a stream.
type repoFeed struct {
	ch    chan []byte   // pieces to write, closed at the end of the stream
	free  chan []byte   // pieces written, for the stream to reuse (the stream's)
	final chan verdict  // what the store side decided, sent once
	done  chan struct{} // closed when the dispatch side has returned
	res   dispatched    // the dispatch side's outcome, set before done is closed
	err   error
	last  atomic.Int64 // when the dispatch side last made progress (Unix ns)
}

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// verdict is the end of the stream as the dispatch side learns it: the
// digest and CRC-32C of the bytes, the name to give the copy, or why there
// is to be no copy.
type verdict struct {
	h    digest
	crc  uint32
	uniq string
	err  error
}

// stream is what the conditioner writes to. It is used by one goroutine;
// a second, the hasher, takes a copy of each piece, adds it to the SHA-256
// and passes it on to the dispatch side, so that the hash runs beside the
// conditioning instead of after each of its writes.
type stream struct {
	ctx    context.Context
	store  *atomicfile.File
	tick   func()
	inject func(op, path string) error
	crc    uint32
	n      int64
	ticker *time.Ticker

	pieces   chan []byte     // to the hasher; closed by end
	free     chan []byte     // pieces back from the hasher or the dispatch side
	made     int             // pieces made
	hashed   chan string     // the hasher's SHA-256, once pieces is closed
	repoDone <-chan struct{} // closed when the dispatch side returns; nil: none
	repoGone atomic.Bool     // the dispatch side returned: its pieces are lost with it

	// budget is how long, in all, the stream may wait for the dispatch side
	// (delivery.repo.timeout; 0: for ever). A /newdata that is slow but
	// alive is not a stall; past the budget, detach drops it, and the
	// stored copy is finished alone.
	budget   time.Duration
	waited   time.Duration
	detach   func()        // nil once called, or without a dispatch side
	detached chan struct{} // closed by detach
	hung     func() bool   // the side has stopped making progress: the stall watch's to end
}

func newStream(ctx context.Context, store *atomicfile.File, tick func(), inject func(op, path string) error, repo *repoFeed, budget time.Duration, detach func(), hung func() bool) *stream {
	s := &stream{ctx: ctx, store: store, tick: tick, inject: inject, ticker: time.NewTicker(10 * time.Millisecond),
		pieces: make(chan []byte, pieces), free: make(chan []byte, 4*pieces), hashed: make(chan string, 1),
		budget: budget, detached: make(chan struct{})}
	if repo != nil {
		repo.free = s.free
		s.repoDone = repo.done
		s.detach, s.hung = detach, hung
	}
	go s.hash(repo)
	return s
}

// hash is the hasher: it hashes each piece and hands it to the dispatch
// side, or back to the stream once there is none.
func (s *stream) hash(repo *repoFeed) {
	h := sha256.New()
	for b := range s.pieces {
		h.Write(b)
		if repo != nil && s.dropped() {
			repo = nil
		}
		if repo != nil {
			select {
			case repo.ch <- b:
				continue
			case <-repo.done:
				repo = nil
				s.repoGone.Store(true)
			case <-s.detached:
				repo = nil
			}
		}
		s.free <- b
	}
	if repo != nil {
		close(repo.ch)
	}
	s.hashed <- hex.EncodeToString(h.Sum(nil))
}

// Write writes p to the stored temporary and queues a copy of it for the
// hasher and the dispatch side.
func (s *stream) Write(p []byte) (int, error) {
	// A delivery given up (listen stopping, a stall) stops the conditioner
	// at its next write.
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.inject("write", s.store.Name()); err != nil {
		return 0, storeError{err}
	}
	n, err := s.store.Write(p)
	s.tick()
	if err != nil {
		return n, storeError{err}
	}
	s.crc = crc32.Update(s.crc, castagnoli, p)
	s.n += int64(n)
	for len(p) > 0 {
		b := s.buffer()
		k := copy(b[:cap(b)], p)
		s.send(b[:k])
		p = p[k:]
	}
	return n, nil
}

// buffer returns a free piece, waiting for one while the others are hashed
// and written to repoDir.
func (s *stream) buffer() []byte {
	for {
		select {
		case b := <-s.free:
			return b
		default:
		}
		// Once the dispatch side is gone, the pieces it held are replaced;
		// free has room for them all.
		if s.made < pieces || s.repoGone.Load() && s.made < cap(s.free) {
			s.made++
			return make([]byte, chunk)
		}
		t0 := time.Now()
		select {
		case b := <-s.free:
			s.waited += time.Since(t0)
			return b
		case <-s.repoDone:
			s.repoGone.Store(true)
			s.repoDone = nil
		case <-s.ticker.C:
			s.tick() // waiting on repoDir is not a stall of the store
		}
		s.waitedFor(t0)
	}
}

func (s *stream) send(b []byte) {
	for {
		t0 := time.Now()
		select {
		case s.pieces <- b:
			s.waited += time.Since(t0)
			return
		case <-s.ticker.C:
			s.tick()
		}
		s.waitedFor(t0)
	}
}

// dropped reports whether the stream has dropped the dispatch side.
func (s *stream) dropped() bool { return closed(s.detached) }

// left is what remains of the budget; -1 when there is none.
func (s *stream) left() time.Duration {
	if s.budget <= 0 {
		return -1
	}
	return max(0, s.budget-s.waited)
}

// waitedFor adds the time since t0 to what the stream has waited for the
// dispatch side, and drops that side once the budget is spent: its
// buffers are replaced and the hasher no longer waits on it.
func (s *stream) waitedFor(t0 time.Time) {
	s.waited += time.Since(t0)
	if s.detach == nil || s.budget <= 0 || s.waited <= s.budget || s.hung() {
		return
	}
	s.detach()
	s.detach = nil
	close(s.detached)
	s.repoGone.Store(true)
}

// end closes the stream and returns the digest of what was written, once
// the hasher has it; the dispatch side is waited for at most until it
// returns, which its stall timeout bounds.
func (s *stream) end() digest {
	close(s.pieces)
	sum, _ := awaitTicking(context.Background(), s.hashed, s.tick)
	s.ticker.Stop()
	return digest{sum: sum, size: s.n}
}

// fresh is the outcome of conditionDeliver.
type fresh struct {
	stored
	disp     dispatched
	dispErr  error
	dispTime time.Duration
	tried    bool // the dispatch ran and dispErr is its outcome
	slow     bool // the dispatch side was dropped for holding up the stored copy
}

// errRepoSlow is why a dispatch side is dropped that keeps the stored copy
// waiting longer than delivery.repo.timeout in all, while still taking its
// pieces: a /newdata that is slow rather than hung.
var errRepoSlow = errors.New("repoDir took the conditioned bytes too slowly: the stored copy was finished alone, to be copied")

// errStoreRefused is what the dispatch side gets when the stored copy cannot
// be made: nothing is delivered that is not stored.
var errStoreRefused = errors.New("the stored copy cannot be made")

// conditionDeliver conditions raw once into a temporary in the store folder
// dir and, with dispatch, into one in repoDir at the same time; it runs in a
// goroutine watched on dir. The order of the commits is for the latency of
// .new: the /newdata copy is synced, renamed and named in .new first, while
// the stored temporary's pages wait in the page cache, so .new waits for one
// file to reach the disk, not two; then the stored copy is synced and
// renamed. A repository that fails does not stop the stored copy; one that
// hangs holds it up for at most the repository's timeout, after which the
// folder counts as stuck and later files do not wait for it at all.
//
// If the computer stops between the two commits, the stored copy is lost
// with its temporary and the ledger has no line for the file; the next run
// conditions it again, to the same bytes, and finds the dispatched copy
// identical.
//
// jobCtx is the job's context, ctx the one of the watch on dir: the
// dispatch side is watched on repoDir under jobCtx, so that the end of the
// store's watch (or its giving up on a stalled store) stops the side
// without counting repoDir as stuck.
func (j *job) conditionDeliver(jobCtx, ctx context.Context, tick func(), raw, dir string, dispatch bool) (fresh, error) {
	d := j.d
	var out fresh
	if err := d.inject("stat", raw); err != nil {
		return out, err
	}
	fi, err := os.Stat(raw)
	if err != nil {
		return out, err
	}
	if err := d.makeStoreDir(dir); err != nil {
		return out, storeError{err}
	}
	tick()
	out.cleaned = d.cleanOnce(dir)
	if err := d.checkSpace(dir, outputEstimate(fi.Size()), d.opts.Proc.MinFree); err != nil {
		return out, storeError{err}
	}
	if err := d.inject("create", dir); err != nil {
		return out, storeError{err}
	}
	f, err := atomicfile.Create(dir, j.n.Base, 0o644)
	if err != nil {
		return out, storeError{err}
	}
	defer f.Abort()
	// The stored copy is kept for the archive, not read soon: once synced,
	// its pages leave the page cache rather than push out the raw files and
	// the /newdata copies that are read, and their memory serves the next
	// frame.
	f.DropCache()
	crash("store/after-temp-create")

	var feed *repoFeed
	var detach func()
	start := time.Now()
	if dispatch {
		if j.how&Announced != 0 {
			// A datagram waits on .new: the stored copy's pages wait in
			// the page cache until its fsync, so that they do not compete
			// for the disk with the copy .new waits for. A batch (a sweep,
			// archive --dispatch) lets both go to disk as they are written.
			f.DeferWriteback()
		}
		feed = &repoFeed{ch: make(chan []byte, pieces), final: make(chan verdict, 1), done: make(chan struct{})}
		// Dropping the side for slowness cancels its own context, inside
		// the watch: the watch then returns what the side returns, as soon
		// as it has noticed, and does not count repoDir as stuck. Only a
		// side that stops making progress is a stall.
		slow := make(chan struct{})
		var once sync.Once
		detach = func() { once.Do(func() { close(slow) }) }
		storeCtx := ctx
		go func() {
			feed.res, feed.err = watch(jobCtx, d, d.opts.RepoDir, d.opts.Repo.Timeout, func(wctx context.Context, tick func()) (dispatched, error) {
				ctx, cancel := context.WithCancelCause(wctx)
				defer cancel(nil)
				go func() {
					select {
					case <-slow:
						cancel(errRepoSlow)
					case <-storeCtx.Done():
						cancel(context.Cause(storeCtx))
					case <-ctx.Done():
					}
				}()
				progress := func() {
					feed.last.Store(time.Now().UnixNano())
					tick()
				}
				progress()
				return j.dispatchStream(ctx, progress, feed, outputEstimate(fi.Size()))
			})
			close(feed.done)
		}()
	}
	// idle reports whether the dispatch side has made no progress for half
	// its stall timeout: hung rather than slow, for the stall watch to end,
	// not the budget.
	idle := func() bool {
		t := d.opts.Repo.Timeout
		return t > 0 && time.Since(time.Unix(0, feed.last.Load())) > t/2
	}
	// finish tells the dispatch side how the stream ended and waits for its
	// outcome, for what is left of the budget the stream keeps of its
	// waits on repoDir (delivery.repo.timeout in all). Past it, or if the
	// stream already dropped the side, the stored copy goes on alone: the
	// side, its context cancelled, commits nothing, and the caller
	// dispatches the stored copy by copying it. Waiting on repoDir is not a
	// stall of the store folder.
	var st *stream
	finish := func(v verdict) {
		if feed == nil {
			return
		}
		feed.final <- v
		if !st.dropped() && !awaitWithin(feed.done, st.left(), tick) && idle() {
			awaitWithin(feed.done, -1, tick) // the stall watch ends it
		}
		if st.dropped() || !closed(feed.done) {
			detach()
			out.dispTime = time.Since(start)
			out.tried, out.slow = false, true
			return
		}
		out.dispTime = time.Since(start)
		out.disp, out.dispErr, out.tried = feed.res, feed.err, !errors.Is(feed.err, errStoreRefused)
		if errors.Is(feed.err, errRepoSlow) {
			out.tried, out.slow = false, true
		}
	}
	refuse := func(err error) (fresh, error) {
		finish(verdict{err: fmt.Errorf("%w: %w", errStoreRefused, err)})
		return out, err
	}

	s := newStream(ctx, f, tick, d.inject, feed, d.opts.Repo.Timeout, detach, idle) // idle: only with a dispatch side
	st = s
	info, err := d.cond.Condition(ctx, raw, s)
	if err == nil {
		err = ctx.Err()
	}
	h := s.end()
	out.condTime = time.Since(start)
	if err != nil {
		return refuse(err)
	}
	out.info, out.conditioned = info, true
	out.sum, out.size = h.sum, h.size
	crash("store/after-write")
	if err := sameSize(f, h.size); err != nil {
		return refuse(storeError{err})
	}
	// Refuse now what placeStored would refuse after the dispatch.
	if _, _, err := j.choose(ctx, tick, dir, info.UniqName, d.opts.Proc.Collision, h); err != nil {
		return refuse(err)
	}
	finish(verdict{h: h, crc: s.crc, uniq: info.UniqName})
	if err := j.syncTemp(f); err != nil {
		return out, err
	}
	crash("store/after-fsync")
	return out, j.placeStored(ctx, tick, f, dir, &out.stored, h)
}

// dispatchStream is the dispatch side of conditionDeliver, in a goroutine
// watched on repoDir: it makes a temporary there, writes the pieces the
// stream sends, and once the stream has ended well, checks the copy against
// it, syncs it, commits it and names it in .new.
func (j *job) dispatchStream(ctx context.Context, tick func(), feed *repoFeed, estimate int64) (dispatched, error) {
	d := j.d
	repo := d.opts.RepoDir
	var out dispatched
	var err error
	if out.cleaned, err = d.enterRepo(tick); err != nil {
		return out, err
	}
	if err := d.checkSpace(repo, estimate, d.opts.Repo.MinFree); err != nil {
		return out, err
	}
	if err := d.inject("create", repo); err != nil {
		return out, err
	}
	f, err := atomicfile.Create(repo, j.n.Base, 0o644)
	if err != nil {
		return out, err
	}
	defer f.Abort()
	crash("dispatch/after-temp-create")

	var crc uint32
	var n int64
	for {
		b, ok, err := awaitPiece(ctx, feed.ch, tick)
		if err == nil && ctx.Err() != nil {
			err = context.Cause(ctx) // dropped: the pieces still queued are not written
		}
		if err != nil {
			return out, err
		}
		if !ok {
			break
		}
		if err := d.inject("write", f.Name()); err != nil {
			return out, err
		}
		if pieceHook != nil {
			pieceHook(b)
		}
		if _, err := f.Write(b); err != nil {
			return out, err
		}
		tick()
		crc = crc32.Update(crc, castagnoli, b)
		n += int64(len(b))
		feed.free <- b[:cap(b)]
	}
	v, err := awaitTicking(ctx, feed.final, tick)
	if err != nil {
		return out, err
	}
	if v.err != nil {
		return out, v.err
	}
	crash("dispatch/after-write")
	if crc != v.crc || n != v.h.size {
		return out, fmt.Errorf("the copy written to %s has crc32c %08x and %d bytes, the stored copy %08x and %d bytes", repo, crc, n, v.crc, v.h.size)
	}
	if err := sameSize(f, n); err != nil {
		return out, err
	}
	if err := j.syncTemp(f); err != nil {
		return out, err
	}
	crash("dispatch/after-fsync")
	if out.path, out.already, err = j.place(ctx, tick, f, repo, v.uniq, d.opts.Repo.Collision, v.h); err != nil {
		return out, err
	}
	if !out.already {
		crash("dispatch/after-rename")
	}
	return out, j.announce(ctx, &out, v.uniq)
}

// pieceHook, set only by the tests, sees each piece before the dispatch side
// writes it, and can spoil it as a fault of the tee would.
var pieceHook func(b []byte)

// awaitPiece receives the next piece of the stream, ticking while it waits:
// the conditioner computing is not a stall of repoDir. ok is false at the
// end of the stream.
func awaitPiece(ctx context.Context, ch <-chan []byte, tick func()) (b []byte, ok bool, err error) {
	select {
	case b, ok = <-ch:
		return b, ok, nil
	default:
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case b, ok = <-ch:
			return b, ok, nil
		case <-t.C:
			tick()
		case <-ctx.Done():
			return nil, false, context.Cause(ctx)
		}
	}
}

// sameSize checks that the temporary f holds size bytes on disk: nothing
// cut it short or wrote past the stream meanwhile.
func sameSize(f *atomicfile.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != size {
		return fmt.Errorf("%s has %d bytes, %d were written", f.Name(), fi.Size(), size)
	}
	return nil
}
