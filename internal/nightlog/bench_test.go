package nightlog

import (
	"context"
	"io"
	"os"
	"sync"
	"testing"
)

// BenchmarkNight builds and renders the log of a delivered night of 300
// frames (150 a channel), previews drawn: the judge's look, 300 header
// reads, 300 thumbnail looks and the HTML; cold, and with the headers
// cached as listen keeps them. Only headers are read, so the frames' size
// does not matter, only their count.
//
//	go test ./internal/nightlog -run '^$' -bench Night -benchtime 20x -count 5
func BenchmarkNight(b *testing.B) {
	bench.once.Do(func() {
		dir, err := os.MkdirTemp("", "nightlog-bench-")
		if err != nil {
			b.Fatal(err)
		}
		bench.dir, bench.tr = dir, deliveredNight(b, dir, 150)
	})
	o := bench.tr.options()
	o.Status.Free = nil                                   // statfs, as in use
	b.Run("cold", func(b *testing.B) { benchPage(b, o) }) // dataman nightlog, or a server's first page
	o.Cache = &Cache{}
	b.Run("cached", func(b *testing.B) { benchPage(b, o) }) // listen's pages after the first
}

// bench is the night of BenchmarkNight, made once for all its runs (-count).
var bench struct {
	once sync.Once
	dir  string
	tr   *tree
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bench.dir != "" {
		os.RemoveAll(bench.dir)
	}
	os.Exit(code)
}

// deliveredNight delivers n frames in each of two channels, in root.
func deliveredNight(b *testing.B, root string, n int) *tree {
	tr := newTreeAt(b, root)
	var all []string
	for seq := 1; seq <= n; seq++ {
		all = append(all, tr.raw("mods1b", seq, "1k-2x2", nil), tr.raw("mods1r", seq, "1k-2x2", nil))
	}
	tr.deliver(all...)
	return tr
}

func benchPage(b *testing.B, o Options) {
	for b.Loop() {
		p := Build(context.Background(), o, night)
		if len(p.Rows) != 300 || p.Rows[0].Thumb == "" || p.Rows[299].Header.Bias[3] == "" {
			b.Fatalf("%d rows, problems %v", len(p.Rows), p.Problems)
		}
		if err := p.Write(io.Discard, Links{Previews: night + "/"}); err != nil {
			b.Fatal(err)
		}
	}
}
