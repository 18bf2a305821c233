package sweep

import (
	"context"
	"testing"
)

// BenchmarkNoopSweep sweeps a delivered night of 300 frames the size of a
// 1k-2x2 readout (660 KB raw): the whole cost of the sweep a timer or listen
// runs every few minutes when nothing was missed. It reads no file content
// (TestNoopSweepOpensNoData), so frame size does not matter, only the count.
//
//	go test ./sweep -run '^$' -bench NoopSweep -benchtime 20x
func BenchmarkNoopSweep(b *testing.B) {
	n := newTestNight(b)
	n.addRaw(300, 659520)
	seqs := make([]int, 300)
	for i := range seqs {
		seqs[i] = i + 1
	}
	n.deliver(seqs...)
	o := n.options()
	o.Lock = NewLock(n.lay.StateDir)
	for b.Loop() {
		sum, err := Run(context.Background(), o)
		if err != nil || len(sum.Actions) != 0 {
			b.Fatalf("no-op sweep: %v, %d actions", err, len(sum.Actions))
		}
	}
}
