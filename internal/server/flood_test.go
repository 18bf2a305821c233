package server

import (
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// bogus names raw files that are never written.
func bogus(i int) string { return fmt.Sprintf("mods1b.20260120.%04d.fits", i+1) }

// A burst of requests for files that are not there holds no queue slot and
// no worker: a real frame announced in the middle of it is delivered at
// once, long before the burst's requests are given up on, and nothing is
// dropped for a full queue.
func TestFloodOfMissingFiles(t *testing.T) {
	o := testListenOptions(t)
	o.Jobs, o.Queue = 1, 4
	o.Incomplete = Backoff{Initial: 20 * time.Millisecond, Max: time.Second, GiveUp: listenPatience}
	real := writeRaw(t, o.DataDir, 1)
	fake := newListenFake()
	r := startListen(t, o, fake, Deps{})
	for i := range 256 {
		r.send(t, "proc /home/data/"+bogus(i))
	}
	r.send(t, "proc /home/data/"+real)
	for i := 256; i < 300; i++ {
		r.send(t, "proc /home/data/"+bogus(i))
	}
	if got := receive(t, fake.started, "Ensure of the real frame"); got != real {
		t.Fatalf("Ensure(%s), want %s", got, real)
	}
	r.log.waitFor(t, "delivered", 1)
	for _, msg := range []string{"queue full: request dropped; the next sweep delivers the file",
		"raw file still missing or incomplete; giving up, the next sweep tries again",
		"too many requests for raw files not there: forgetting the oldest; the next sweep delivers it"} {
		if n := r.log.count(msg); n != 0 {
			t.Errorf("%q logged %d times", msg, n)
		}
	}
	// The burst's first checks are logged within the limit.
	r.log.waitFor(t, "raw file not complete yet; retrying", logBurst)
	if n := r.log.atLeast(slog.LevelInfo, "raw file not complete yet; retrying"); n > logBurst {
		t.Errorf("%d lines for 300 missing files, want at most %d", n, logBurst)
	}
	for i := range 300 {
		if n := fake.count(bogus(i)); n != 0 {
			t.Fatalf("%s, never written, was ensured %d times", bogus(i), n)
		}
	}
}

// The watch set is bounded: when it is full, the request that entered
// first gives way, so a new request still gets its first check.
func TestFloodWatchBounded(t *testing.T) {
	o := testListenOptions(t)
	o.Watch = 8
	o.Incomplete = Backoff{Initial: 20 * time.Millisecond, Max: time.Second, GiveUp: listenPatience}
	real, next := writeRaw(t, o.DataDir, 1), writeRaw(t, o.DataDir, 2)
	fake := newListenFake()
	r := startListen(t, o, fake, Deps{})
	const evicted = "too many requests for raw files not there: forgetting the oldest; the next sweep delivers it"
	for i := range 16 {
		r.send(t, "proc "+bogus(i))
	}
	r.log.waitFor(t, evicted, 8)
	r.send(t, "proc "+real)
	if got := receive(t, fake.started, "Ensure of the real frame"); got != real {
		t.Fatalf("Ensure(%s), want %s", got, real)
	}
	// The first request was forgotten: a datagram for it is a new request,
	// and only a second one is a repeat. Another real frame's datagram,
	// handled after them, says when they have been.
	r.send(t, "proc "+bogus(0), "proc "+bogus(0), "proc "+next)
	if got := receive(t, fake.started, "Ensure of the next frame"); got != next {
		t.Fatalf("Ensure(%s), want %s", got, next)
	}
	if n := r.log.count("already queued or in progress"); n != 1 {
		t.Errorf("%d repeats, want 1", n)
	}
}

// 20,000 datagrams a sender repeats at will (garbage, quit from a stranger,
// the same proc again and again) give a few log lines and one count each of
// what was suppressed, not 20,000 lines.
func TestFloodLogLines(t *testing.T) {
	o := testListenOptions(t)
	o.Watch, o.Incomplete = DefaultWatch, DefaultIncomplete
	h := newListenLog()
	s := newServer(o, Deps{Deliverer: newListenFake()}, slog.New(h), nil, "127.0.0.1:10301")
	stranger := netip.MustParseAddrPort("192.0.2.7:4000")
	kinds := []struct {
		datagram, msg string
	}{
		{"hello world", "datagram dropped"},
		{"quit", "quit refused: sender not in server.quitPeers"},
		{"proc " + bogus(0), "already queued or in progress"},
	}
	const n = 20000
	for _, k := range kinds {
		for range n {
			if s.handle(stranger, []byte(k.datagram), time.Now()) {
				t.Fatal("a stranger's quit was accepted")
			}
		}
	}
	s.limit.Close()
	if total := h.atLeast(slog.LevelInfo, ""); total > len(kinds)*(logBurst+1) {
		t.Errorf("%d log lines for %d datagrams, want at most %d", total, len(kinds)*n, len(kinds)*(logBurst+1))
	}
	reported := map[string]int64{}
	msgs, counts := h.attrs("similar messages suppressed", "message"), h.attrs("similar messages suppressed", "count")
	for i := range msgs {
		reported[msgs[i].String()] += counts[i].Int64()
	}
	for i, k := range kinds {
		want := int64(n - logBurst)
		if i == 2 {
			want-- // the first proc was a request, not a repeat
		}
		if got := h.count(k.msg); got != logBurst {
			t.Errorf("%q logged %d times, want %d", k.msg, got, logBurst)
		}
		if reported[k.msg] != want {
			t.Errorf("%q: %d reported suppressed, want %d", k.msg, reported[k.msg], want)
		}
	}
}
