package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/condition"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/testtree"
)

const fixName = "mods1b.20260119.0001.fits"

// verifyTree is a dataman tree in a temporary folder, for one raw file.
type verifyTree struct {
	t *testing.T
	l frame.Layout
	n frame.Name
}

func newVerifyTree(t *testing.T) *verifyTree {
	root := t.TempDir()
	n, err := frame.ParseName(fixName)
	if err != nil {
		t.Fatal(err)
	}
	return &verifyTree{t: t, n: n, l: frame.Layout{
		DataDir:  filepath.Join(root, "raw"),
		ProcDir:  filepath.Join(root, "proc"),
		RepoDir:  filepath.Join(root, "newdata"),
		StateDir: filepath.Join(root, "state"),
	}}
}

func (tr *verifyTree) write(path string, data []byte) {
	tr.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tr.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tr.t.Fatal(err)
	}
}

func (tr *verifyTree) fixture(name string) []byte {
	tr.t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		tr.t.Fatal(err)
	}
	return b
}

func (tr *verifyTree) ledger(events ...ledger.Event) {
	tr.t.Helper()
	var b strings.Builder
	for _, ev := range events {
		b.WriteString(ledger.Format(ev) + "\n")
	}
	tr.write(ledger.Path(tr.l.StateDir, tr.n.Chan), []byte(b.String()))
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (tr *verifyTree) event(step, status string, dest string, content []byte) ledger.Event {
	ev := ledger.Event{File: tr.n.Base, Step: step, Status: status, Dest: dest, Time: time.Unix(1768792425, 0)}
	if content != nil {
		ev.OutSHA256, ev.OutSize = hexSum(content), int64(len(content))
	}
	return ev
}

// delivered lays out the two copies and the ledger lines the delivery path
// would have written for content recorded.
func (tr *verifyTree) delivered(stored, dispatched, recorded []byte) {
	tr.write(tr.l.Stored(tr.n), stored)
	tr.write(tr.l.Dispatched(tr.n), dispatched)
	tr.ledger(
		tr.event(ledger.StepCondition, ledger.StatusOK, "", recorded),
		tr.event(ledger.StepStore, ledger.StatusOK, tr.l.Stored(tr.n), recorded),
		tr.event(ledger.StepDispatch, ledger.StatusOK, tr.l.Dispatched(tr.n), recorded),
	)
}

func (tr *verifyTree) options() Options {
	return Options{Layout: tr.l, Jobs: 2, Proc: fits.AllSteps("test", "cfg"), Version: "test"}
}

// verifyReport is the --json output, read back.
type verifyReport struct {
	Files []struct {
		File           string   `json:"file"`
		Status         string   `json:"status"`
		State          string   `json:"state"`
		Problems       []string `json:"problems"`
		Stored         string   `json:"stored"`
		Dispatched     string   `json:"dispatched"`
		Fixed          []string `json:"fixed"`
		FixError       string   `json:"fix_error"`
		Before         string   `json:"before"`
		BeforeProblems []string `json:"before_problems"`
	} `json:"files"`
	Summary Summary `json:"summary"`
}

// runVerifyJSON runs verify and reads its results back as --json prints
// them. An error is verify's own failure; problems found are in the report.
func runVerifyJSON(t *testing.T, o Options) (verifyReport, error) {
	t.Helper()
	rep, err := Run(context.Background(), o)
	if err != nil {
		return verifyReport{}, err
	}
	b, jerr := json.Marshal(struct {
		Files   []Result `json:"files"`
		Summary Summary  `json:"summary"`
	}{rep.Files, rep.Summary})
	var out verifyReport
	if jerr == nil {
		jerr = json.Unmarshal(b, &out)
	}
	if jerr != nil {
		t.Fatalf("the report does not round-trip through JSON: %v", jerr)
	}
	return out, nil
}

// status returns the line about file, failing the test if there is none.
func (r verifyReport) status(t *testing.T, file string) (string, string) {
	t.Helper()
	for _, f := range r.Files {
		if f.File == file {
			return f.Status, strings.Join(f.Problems, "; ")
		}
	}
	t.Fatalf("no line for %s in %+v", file, r.Files)
	return "", ""
}

// Each broken fixture, and each broken tree, gives its status and a reason
// that names the fault; none crashes verify.
func TestVerifyBrokenFixtures(t *testing.T) {
	as := func(name string) func(tr *verifyTree) {
		return func(tr *verifyTree) {
			b := tr.fixture(name)
			tr.delivered(b, b, b)
		}
	}
	tests := []struct {
		name   string
		setup  func(tr *verifyTree)
		file   string // the line to look at, if not fixName
		chans  []string
		want   string
		reason []string
	}{
		{name: "sound", setup: as("good.fits"), want: "="},
		{name: "truncated file", setup: as("truncated.fits"), want: "!", reason: []string{"both copies: not sound FITS", "truncated"}},
		{name: "bad DATASUM", setup: as("bad-datasum.fits"), want: "*", reason: []string{"HDU 1 (IM1):", "the data do not match DATASUM"}},
		{name: "bad CHECKSUM", setup: as("bad-checksum.fits"), want: "*", reason: []string{"HDU 1 (IM1): CHECKSUM does not match"}},
		{name: "missing CHECKSUM", setup: as("no-checksum.fits"), want: "!", reason: []string{"HDU 6 (MERGED): no CHECKSUM"}},
		{name: "missing END", setup: as("no-end.fits"), want: "!", reason: []string{"not sound FITS", "no END card"}},
		{name: "one edited pixel", setup: as("edited-pixel.fits"), want: "*", reason: []string{"HDU 1 (IM1): CHECKSUM does not match, the data do not match DATASUM"}},
		{name: "MERGED header", setup: as("merged-header.fits"), want: "*", reason: []string{"MERGED header disagrees with the primary: OBJECT differs"}},
		{name: "not FITS", setup: as("not-fits.fits"), want: "!", reason: []string{"not a FITS file"}},
		{
			name: "differing copies",
			setup: func(tr *verifyTree) {
				tr.delivered(tr.fixture("good.fits"), tr.fixture("other.fits"), tr.fixture("good.fits"))
			},
			want:   "*",
			reason: []string{"the dispatched copy differs from the stored copy from byte", "dispatched copy: sha256"},
		},
		{
			name: "missing newdata copy",
			setup: func(tr *verifyTree) {
				good := tr.fixture("good.fits")
				tr.delivered(good, good, good)
				os.Remove(tr.l.Dispatched(tr.n))
			},
			want:   "-",
			reason: []string{"dispatched copy " + "", "is gone (the ledger recorded it)"},
		},
		{
			name: "dispatch pending",
			setup: func(tr *verifyTree) {
				good := tr.fixture("good.fits")
				tr.write(tr.l.Stored(tr.n), good)
				pending := tr.event(ledger.StepDispatch, ledger.StatusPending, "", nil)
				pending.Reason = "stat /newdata: no such file or directory"
				tr.ledger(tr.event(ledger.StepStore, ledger.StatusOK, tr.l.Stored(tr.n), good), pending)
			},
			want:   "-",
			reason: []string{"no dispatched copy: dispatch pending: stat /newdata: no such file or directory"},
		},
		{
			name: "ledger mismatch",
			setup: func(tr *verifyTree) {
				good := tr.fixture("good.fits")
				tr.delivered(good, good, tr.fixture("other.fits"))
			},
			want:   "*",
			reason: []string{"stored copy: sha256", "the ledger recorded"},
		},
		{
			name: "no ledger",
			setup: func(tr *verifyTree) {
				good := tr.fixture("good.fits")
				tr.write(tr.l.Raw(tr.n), []byte("raw"))
				tr.write(tr.l.Stored(tr.n), good)
				tr.write(tr.l.Dispatched(tr.n), good)
			},
			want:   "*",
			reason: []string{"stored copy: the ledger has no record of it", "dispatched copy: the ledger has no record of it"},
		},
		{
			name: "orphan copy",
			setup: func(tr *verifyTree) {
				tr.write(tr.l.Stored(tr.n), tr.fixture("good.fits"))
			},
			file:   "proc/20260119/" + fixName,
			chans:  []string{"mods1b"}, // no raw folder or ledger to find the channel by
			want:   "+",
			reason: []string{"neither the raw folder nor the ledger knows this file"},
		},
		{
			name:   "raw file only",
			setup:  func(tr *verifyTree) { tr.write(tr.l.Raw(tr.n), []byte("raw")) },
			want:   "-",
			reason: []string{"no stored copy: the ledger has no record of it"},
		},
		{
			name: "extra copy",
			setup: func(tr *verifyTree) {
				good := tr.fixture("good.fits")
				tr.delivered(good, good, good)
				tr.write(filepath.Join(tr.l.RepoDir, "mods1b.20260119.0002.fits"), good)
			},
			file:   "newdata/mods1b.20260119.0002.fits",
			want:   "+",
			reason: []string{"neither the raw folder nor the ledger knows this file"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newVerifyTree(t)
			tt.setup(tr)
			o := tr.options()
			o.Channels = tt.chans
			rep, err := runVerifyJSON(t, o)
			file := fixName
			if tt.file != "" {
				file = filepath.Join(filepath.Dir(tr.l.RepoDir), tt.file)
			}
			got, why := rep.status(t, file)
			if got != tt.want {
				t.Errorf("status %s (%s), want %s", got, why, tt.want)
			}
			for _, r := range tt.reason {
				if !strings.Contains(why, r) {
					t.Errorf("reason %q lacks %q", why, r)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok := rep.Summary.Problems() == 0; ok != (tt.want == "=") {
				t.Errorf("summary %+v: problems found %v, want %v", rep.Summary, !ok, tt.want != "=")
			}
		})
	}
}

// deliveredNight synthesizes count raw frames and delivers them through
// the delivery path, as a night would.
func deliveredNight(t testing.TB, count int, mode string) Options {
	t.Helper()
	root := t.TempDir()
	l := frame.Layout{
		DataDir:  filepath.Join(root, "raw"),
		ProcDir:  filepath.Join(root, "proc"),
		RepoDir:  filepath.Join(root, "newdata"),
		StateDir: filepath.Join(root, "state"),
	}
	rawDir := filepath.Join(l.DataDir, "mods1b")
	if err := os.MkdirAll(rawDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(l.RepoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	o := Options{Layout: l, Jobs: 2, Proc: fits.AllSteps("test", "sha256:0123456789abcdef"), Version: "test"}
	o.Deliverer = func() (*deliver.Deliverer, error) {
		return deliver.New(deliver.Options{Layout: l, Version: o.Version, ConfigHash: o.Proc.ConfigHash}, condition.ForDelivery{Opts: o.Proc})
	}
	d, err := o.Deliverer()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for seq := 1; seq <= count; seq++ {
		path, err := synth.WriteFile(rawDir, synth.Default("mods1b", seq, mode))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Ensure(context.Background(), filepath.Base(path), deliver.Deliver); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func seqName(seq int) string {
	return "mods1b.20260119." + strings.Repeat("0", 4-len(strconv.Itoa(seq))) + strconv.Itoa(seq) + ".fits"
}

func TestVerifyDeliveredNight(t *testing.T) {
	o := deliveredNight(t, 2, "1k-2x2")
	rep, err := runVerifyJSON(t, o)
	if err != nil || rep.Summary.OK != 2 || len(rep.Files) != 2 || rep.Files[0].File != seqName(1) || rep.Files[1].File != seqName(2) {
		t.Fatalf("verify of a sound night: %v, %+v", err, rep.Files)
	}

	deep := o
	deep.Deep = true
	rep, err = runVerifyJSON(t, deep)
	if err != nil || rep.Summary.OK != 2 {
		t.Errorf("--deep of a sound night: %v, %+v", err, rep.Files)
	}

	one := o
	one.Files = []string{filepath.Join("wherever", seqName(2))}
	rep, err = runVerifyJSON(t, one)
	if err != nil || len(rep.Files) != 1 || rep.Files[0].File != seqName(2) {
		t.Errorf("verify of one named file: %v, %+v", err, rep.Files)
	}

	other := o
	other.Nights = []string{"20260120"}
	rep, err = runVerifyJSON(t, other)
	if err != nil || len(rep.Files) != 0 {
		t.Errorf("verify of a night with no files: %v, %+v", err, rep.Files)
	}

	// Where it looked, so that an empty night can say so.
	got, err := Run(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	want := Places{
		Channels: []string{"mods1b"},
		Nights:   []string{"20260120"},
		Raw:      []string{filepath.Join(o.Layout.DataDir, "mods1b")},
		Ledgers:  []string{ledger.Dir(o.Layout.StateDir, "mods1b")},
		Stored:   []string{filepath.Join(o.Layout.ProcDir, "20260120")},
		Repo:     o.Layout.RepoDir,
		Absent:   []string{filepath.Join(o.Layout.ProcDir, "20260120")},
	}
	if !reflect.DeepEqual(got.Looked, want) {
		t.Errorf("looked in %+v, want %+v", got.Looked, want)
	}
}

// --deep is the only check that sees a MERGED image that no longer follows
// from the raw file while every copy and checksum agrees.
func TestVerifyDeepRecomputesMerged(t *testing.T) {
	o := deliveredNight(t, 1, "1k-2x2")
	n, _ := frame.ParseName(seqName(1))
	raw := o.Layout.Raw(n)
	f, err := fits.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	im1 := f.HDUs[1]
	nx, _ := im1.Header.Int("NAXIS1")
	ny, _ := im1.Header.Int("NAXIS2")
	f.Close()
	// A pixel in the image area, away from the overscan at the row ends.
	off := im1.DataStart() + 2*(ny/2*nx+nx/4)
	w, err := os.OpenFile(raw, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte{0x7f, 0xff}, off); err != nil {
		t.Fatal(err)
	}
	w.Close()

	if rep, err := runVerifyJSON(t, o); err != nil || rep.Summary.Problems() != 0 {
		t.Fatalf("without --deep a changed raw file is not verify's business: %v, %+v", err, rep.Files)
	}
	o.Deep = true
	rep, err := runVerifyJSON(t, o)
	if err != nil || rep.Summary.Problems() == 0 {
		t.Fatalf("--deep after a raw pixel changed: %v, %+v", err, rep.Summary)
	}
	got, why := rep.status(t, seqName(1))
	for _, want := range []string{"MERGED differs from its recomputation in 1 of", "the raw file changed since it was conditioned"} {
		if got != "*" || !strings.Contains(why, want) {
			t.Errorf("status %s, reason %q; want * and %q", got, why, want)
		}
	}
}

// Without --fix nothing changes, not even a ledger with a torn last line,
// which opening the ledger for writing would cut.
func TestVerifyChangesNothing(t *testing.T) {
	o := deliveredNight(t, 3, "1k-2x2")
	l := o.Layout
	n1, _ := frame.ParseName(seqName(1))
	n2, _ := frame.ParseName(seqName(2))
	os.Remove(l.Dispatched(n1))
	flipByte(t, l.Stored(n2), 5000)
	os.WriteFile(filepath.Join(l.RepoDir, "mods1b.20260119.0042.fits"), []byte("extra"), 0o644)
	lf, err := os.OpenFile(ledger.NightPath(l.StateDir, "mods1b", "20260119"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	lf.WriteString("this line does not parse\nmods1b.20260119.0003.fits step=sto")
	lf.Close()
	root := filepath.Dir(l.DataDir)
	before := testtree.State(t, root)

	for _, deep := range []bool{false, true} {
		o.Deep = deep
		rep, err := Run(context.Background(), o)
		if err != nil || rep.Summary.Problems() == 0 {
			t.Fatalf("verify of a damaged tree: %v, %+v", err, rep.Summary)
		}
	}
	for _, c := range testtree.Changes(before, testtree.State(t, root)) {
		t.Errorf("changed: %s", c)
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, off)
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Bit rot keeps the time; so does a careless restore.
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyFix(t *testing.T) {
	o := deliveredNight(t, 5, "1k-2x2")
	l := o.Layout
	n := make([]frame.Name, 6)
	for i := 1; i <= 5; i++ {
		n[i], _ = frame.ParseName(seqName(i))
	}
	os.Remove(l.Dispatched(n[1]))                       // lost from newdata
	flipByte(t, l.Stored(n[2]), 100000)                 // bit rot in the stored copy, mtime kept
	copyFile(t, l.Dispatched(n[4]), l.Dispatched(n[3])) // newdata copy replaced by another file
	os.Remove(l.Stored(n[5]))                           // stored copy lost, and the raw file too
	os.Remove(l.Raw(n[5]))
	o.Fix = true
	rep, err := runVerifyJSON(t, o)
	if err != nil || rep.Summary.Problems() == 0 {
		t.Errorf("%v, %+v: the unrepairable file and the extra copies left in place are problems", err, rep.Summary)
	}
	for _, f := range rep.Files {
		t.Logf("%s %s %v fixed=%v err=%q before=%s %v", f.Status, f.File, f.Problems, f.Fixed, f.FixError, f.Before, f.BeforeProblems)
	}
	for i, before := range map[int]string{1: "-", 2: "*", 3: "*"} {
		f := rep.Files[i-1]
		if f.File != n[i].Base || f.Status != "=" || f.Before != before || len(f.Fixed) == 0 {
			t.Errorf("%s: status %s, before %q, fixed %v; want = after %s, with what was done", n[i].Base, f.Status, f.Before, f.Fixed, before)
		}
	}
	if f := rep.Files[3]; f.Status != "=" || f.Before != "" || len(f.Fixed) != 0 {
		t.Errorf("the sound file was touched: %+v", f)
	}
	if f := rep.Files[4]; f.Status != "-" || !strings.Contains(f.FixError, "raw file is gone") {
		t.Errorf("a file with neither raw file nor stored copy: %+v", f)
	}
	if _, err := os.Stat(l.Dispatched(n[1])); err != nil {
		t.Errorf("the lost newdata copy was not dispatched again: %v", err)
	}
	// The damaged copies were ours (the ledger recorded them), so the
	// delivery path repaired them in place: no second copy is left beside
	// them under another name.
	for _, f := range rep.Files[5:] {
		if f.Status == "+" {
			t.Errorf("extra copy %s left after the repair", f.File)
		}
	}
	for _, p := range []string{l.Stored(n[2]), l.Dispatched(n[3])} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("repaired copy %s: %v", p, err)
		}
	}

	// A fresh verify agrees that the repairs hold.
	o.Fix = false
	rep, _ = runVerifyJSON(t, o)
	for i := 1; i <= 4; i++ {
		if got, why := rep.status(t, n[i].Base); got != "=" {
			t.Errorf("after --fix, %s is %s: %s", n[i].Base, got, why)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkVerifyNight verifies a delivered night (checksums and copies, no
// --deep) and, as BenchmarkReadNight, only reads the same files, so that the
// two MB/s figures of one run compare. DATAMAN_BENCH_FRAMES and
// DATAMAN_BENCH_MODE choose the night (default 4 frames of 1k-2x2; the
// issue's figure is 100 of full).
func BenchmarkVerifyNight(b *testing.B) {
	o, size := benchNight(b)
	b.SetBytes(size)
	for b.Loop() {
		if _, err := Run(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadNight(b *testing.B) {
	o, size := benchNight(b)
	var files []string
	for _, dir := range []string{o.Layout.ProcDir, o.Layout.RepoDir} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".fits") {
				files = append(files, path)
			}
			return err
		})
	}
	buf := make([]byte, 128<<10)
	b.SetBytes(size)
	for b.Loop() {
		for _, p := range files {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
			f.Close()
		}
	}
}

func benchNight(b *testing.B) (Options, int64) {
	frames, mode := 4, "1k-2x2"
	if s := os.Getenv("DATAMAN_BENCH_FRAMES"); s != "" {
		var err error
		if frames, err = strconv.Atoi(s); err != nil {
			b.Fatalf("DATAMAN_BENCH_FRAMES: %v", err)
		}
	}
	if s := os.Getenv("DATAMAN_BENCH_MODE"); s != "" {
		mode = s
	}
	o := deliveredNight(b, frames, mode)
	var size int64
	for _, dir := range []string{o.Layout.ProcDir, o.Layout.RepoDir} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".fits") {
				fi, _ := d.Info()
				size += fi.Size()
			}
			return err
		})
	}
	return o, size
}
