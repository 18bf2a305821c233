package status

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/control"
)

// BenchmarkNight builds the status of a delivered night of 300 frames with
// listen running: what `dataman status` costs, less starting the binary.
// The judge reads no file content of an intact night, so the frames' size
// does not matter, only their count.
//
//	go test ./internal/status -run '^$' -bench Night -benchtime 20x -count 5
func BenchmarkNight(b *testing.B) {
	tr := newTree(b)
	tr.raw(1, 300)
	for seq := 1; seq <= 300; seq++ {
		tr.deliver(seq)
	}
	st := control.Status{State: control.Idle, Last: rawName(300), Latency: 800 * time.Millisecond}
	pid := strconv.Itoa(os.Getpid())
	for name, text := range map[string]string{control.PidFile: pid + "\n", control.StatusFile: st.Format(os.Getpid(), time.Now())} {
		if err := os.WriteFile(filepath.Join(tr.lay.StateDir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	o := tr.options()
	o.Free = nil // statfs, as in use
	for b.Loop() {
		r, err := Build(context.Background(), o)
		if err != nil || r.Channels[0].Count("delivered") != 300 || !r.Listen.Running {
			b.Fatalf("status: %v, %+v", err, r.Channels)
		}
	}
}
