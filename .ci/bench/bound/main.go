// Command bound measures what a one-pass delivery of a conditioned frame
// cannot avoid once its conditioning costs nothing: the frame's bytes,
// taken from the page cache in pieces of 1 MiB, written into two new files
// (the stored copy and the /newdata copy) and hashed with SHA-256 (the
// ledger's checksum), all at once on their own goroutines, as the delivery
// does; then the second file is synced (what <CHAN>.new waits for), then
// the first (what archive --dispatch waits for too).
//
//	bound SRC A B
//
// It prints two times in seconds: until B is synced, and until both are.
// Nothing is left for the kernel to write later, which would slow down
// whatever runs next.
// The benchmark scripts beside it set it against dd and cp of the same
// frame, in the same run.
package main

import (
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

const (
	pieceSize = 1 << 20
	inFlight  = 12
)

type piece struct {
	b    []byte
	done *sync.WaitGroup // the three consumers of the piece
}

func main() {
	flag.Parse()
	if flag.NArg() != 3 {
		fmt.Fprintln(os.Stderr, "usage: bound SRC A B")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), flag.Arg(2)); err != nil {
		fmt.Fprintln(os.Stderr, "bound:", err)
		os.Exit(1)
	}
}

func run(src, a, b string) error {
	start := time.Now()
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fa, err := os.Create(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Create(b)
	if err != nil {
		return err
	}
	defer fb.Close()

	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	var consumers sync.WaitGroup
	consume := func(ch <-chan piece, use func([]byte) error) {
		consumers.Add(1)
		go func() {
			defer consumers.Done()
			for p := range ch {
				if err := use(p.b); err != nil {
					fail(err)
				}
				p.done.Done()
			}
		}()
	}
	toA, toB, toHash := make(chan piece, inFlight), make(chan piece, inFlight), make(chan piece, inFlight)
	consume(toA, func(p []byte) error { _, err := fa.Write(p); return err })
	consume(toB, func(p []byte) error { _, err := fb.Write(p); return err })
	h := sha256.New()
	consume(toHash, func(p []byte) error { h.Write(p); return nil })

	ring := make([]piece, inFlight)
	for i := range ring {
		ring[i] = piece{make([]byte, pieceSize), new(sync.WaitGroup)}
	}
	var readErr error
	for i := 0; ; i++ {
		p := ring[i%inFlight]
		p.done.Wait()
		n, err := io.ReadFull(in, p.b[:pieceSize])
		if n > 0 {
			p.done.Add(3)
			q := piece{p.b[:n], p.done}
			toA <- q
			toB <- q
			toHash <- q
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
	}
	close(toA)
	close(toB)
	close(toHash)
	consumers.Wait()
	_ = h.Sum(nil)
	if err := errors.Join(append(errs, readErr)...); err != nil {
		return err
	}
	if err := fb.Sync(); err != nil {
		return err
	}
	one := time.Since(start)
	if err := fa.Sync(); err != nil {
		return err
	}
	fmt.Printf("%.4f %.4f\n", one.Seconds(), time.Since(start).Seconds())
	return nil
}
