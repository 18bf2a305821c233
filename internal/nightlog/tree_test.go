package nightlog

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/condition"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/preview"
	"github.com/obsdata/dataman/internal/status"
)

const night = "20260119"

// tree is a data tree whose frames are real synthetic raw files, delivered
// through the real delivery path with the real conditioning and previews.
type tree struct {
	t   testing.TB
	lay frame.Layout
	d   *deliver.Deliverer
}

func newTree(t testing.TB) *tree { return newTreeAt(t, t.TempDir()) }

func newTreeAt(t testing.TB, root string) *tree {
	tr := &tree{t: t, lay: frame.Layout{
		DataDir: filepath.Join(root, "raw"), ProcDir: filepath.Join(root, "proc"),
		RepoDir: filepath.Join(root, "newdata"), StateDir: filepath.Join(root, "state"),
	}}
	for _, dir := range []string{tr.lay.DataDir, tr.lay.RepoDir, tr.lay.StateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, err := deliver.New(deliver.Options{
		Layout: tr.lay, Version: "test", Consumed: true,
		Preview: func(stored string) error {
			_, err := preview.Write(stored, preview.Options{})
			return err
		},
	}, condition.ForDelivery{Opts: fits.AllSteps("test", "sha256:test")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	tr.d = d
	return tr
}

// raw writes a synthetic raw frame, an hour old; edit may change it first.
func (tr *tree) raw(ch string, seq int, mode string, edit func(*synth.Frame)) string {
	tr.t.Helper()
	f := synth.Default(ch, seq, mode)
	if edit != nil {
		edit(&f)
	}
	dir := filepath.Join(tr.lay.DataDir, ch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tr.t.Fatal(err)
	}
	path, err := synth.WriteFile(dir, f)
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.age(path)
	return filepath.Base(path)
}

// age makes a raw file an hour old, older than any minimum age.
func (tr *tree) age(path string) {
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *tree) deliver(bases ...string) {
	tr.t.Helper()
	for _, b := range bases {
		tr.d.Ensure(context.Background(), b, deliver.Deliver) // failures are recorded
	}
}

func (tr *tree) stored(base string) string {
	n, err := frame.ParseName(base)
	if err != nil {
		tr.t.Fatal(err)
	}
	return tr.lay.Stored(n)
}

func (tr *tree) options() Options {
	return Options{Status: status.Options{
		Judge: judge.Options{Layout: tr.lay, Consumed: true},
		Free:  func(string) (int64, error) { return 100 << 30, nil },
		Alive: func(int) bool { return false },
	}}
}
