package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/verify"
)

// The checks themselves are tested in internal/verify; these tests are of
// the command: usage errors, exit statuses, what it prints and where.

// rawNight is a tree whose one night has count raw files of mods1b and
// nothing else: each file lacks both copies.
func rawNight(t *testing.T, count int) verifyOptions {
	t.Helper()
	root := t.TempDir()
	l := frame.Layout{
		DataDir:  filepath.Join(root, "raw"),
		ProcDir:  filepath.Join(root, "proc"),
		RepoDir:  filepath.Join(root, "newdata"),
		StateDir: filepath.Join(root, "state"),
	}
	dir := filepath.Join(l.DataDir, "mods1b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= count; seq++ {
		if err := os.WriteFile(filepath.Join(dir, seqName(seq)), []byte("raw"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return verifyOptions{Options: verify.Options{Layout: l, Jobs: 2, Proc: fits.AllSteps("test", "cfg"), Version: "test"}}
}

func seqName(seq int) string {
	return "mods1b.20260119." + strings.Repeat("0", 4-len(strconv.Itoa(seq))) + strconv.Itoa(seq) + ".fits"
}

func TestVerifyUsage(t *testing.T) {
	const name = "mods1b.20260119.0001.fits"
	tests := map[string]verify.Options{
		"short night":        {Nights: []string{"2026011"}},
		"no such date":       {Nights: []string{"20261399"}},
		"bad channel":        {Channels: []string{"mods-1b"}},
		"not a raw name":     {Files: []string{"out/mods1b.20260119.031345.fits"}},
		"files and a night":  {Files: []string{name}, Nights: []string{"20260119"}},
		"files and channels": {Files: []string{name}, Channels: []string{"mods1b"}},
	}
	for what, vo := range tests {
		t.Run(what, func(t *testing.T) {
			o := rawNight(t, 1)
			vo.Layout = o.Layout
			o.Options = vo
			err := runVerify(context.Background(), o, io.Discard, io.Discard)
			if exitcode.Code(err) != exitcode.Usage {
				t.Errorf("exit status %d (%v), want %d", exitcode.Code(err), err, exitcode.Usage)
			}
		})
	}
}

// Problems found are status 3, with a hint when --fix could help; the
// lines and the summary are as the README shows them.
func TestVerifyReportsProblems(t *testing.T) {
	o := rawNight(t, 2)
	var stdout bytes.Buffer
	err := runVerify(context.Background(), o, &stdout, io.Discard)
	var e *exitcode.Error
	if exitcode.Code(err) != exitcode.Problems || !errors.As(err, &e) || len(e.Hints) != 1 || !strings.Contains(e.Hints[0], "verify --fix") {
		t.Fatalf("exit status %d (%v), want %d with a hint to --fix", exitcode.Code(err), err, exitcode.Problems)
	}
	if got, want := err.Error(), "verify: 2 of 2 files have problems"; !strings.Contains(got, want) {
		t.Errorf("error %q, want %q", got, want)
	}
	missing := ": no stored copy: the ledger has no record of it; no dispatched copy: the ledger has no record of it\n"
	want := "- " + seqName(1) + missing + "- " + seqName(2) + missing + "2 files: 0 ok, 2 missing, 0 extra, 0 differ, 0 errors; 0 B verified in "
	if !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("output\n%s\nwant it to start with\n%s", stdout.String(), want)
	}
}

func TestPrintVerify(t *testing.T) {
	rep := verify.Report{
		Files: []verify.Result{
			{File: "a.fits", Status: verify.OK},
			{File: "b.fits", Status: verify.OK, Before: verify.Missing, BeforeWhat: []string{"no dispatched copy"}, Fixed: []string{"dispatched x"}},
			{File: "c.fits", Status: verify.Missing, Problems: []string{"one", "two"}, Before: verify.Missing, BeforeWhat: []string{"one", "two"}, FixError: "raw file gone"},
		},
		Summary: verify.Summary{Files: 3, OK: 2, Missing: 1, Repaired: 1, Bytes: 3 << 20, Seconds: 2},
	}
	var text bytes.Buffer
	if err := printVerify(&text, false, rep); err != nil {
		t.Fatal(err)
	}
	want := "= a.fits\n" +
		"= b.fits [repaired: dispatched x] [was -: no dispatched copy]\n" +
		"- c.fits: one; two [not repaired: raw file gone] [was -: one; two]\n" +
		"3 files: 2 ok, 1 missing, 0 extra, 0 differ, 0 errors, 1 repaired; 3.0 MiB verified in 2.00 s (2 MB/s)\n"
	if text.String() != want {
		t.Errorf("text\n%s\nwant\n%s", text.String(), want)
	}

	var js bytes.Buffer
	if err := printVerify(&js, true, rep); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Files   []map[string]any `json:"files"`
		Summary verify.Summary   `json:"summary"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("--json output: %v\n%s", err, js.String())
	}
	if len(back.Files) != 3 || back.Files[1]["before"] != "-" || back.Files[2]["state"] != "missing" || back.Summary != rep.Summary {
		t.Errorf("--json output read back as %+v", back)
	}
}

func TestVerifyProgressOnlyWhenAsked(t *testing.T) {
	o := rawNight(t, 3)
	for _, on := range []bool{false, true} {
		o.ShowProgress = on
		var stderr bytes.Buffer
		if err := runVerify(context.Background(), o, io.Discard, &stderr); exitcode.Code(err) != exitcode.Problems {
			t.Fatal(err)
		}
		if drawn := stderr.Len() > 0; drawn != on {
			t.Errorf("progress %v: stderr %q", on, stderr.String())
		}
	}
}

// A night with nothing in it is status 0, and the warning names every place
// verify looked in, and which are not there (issue 13, item 15).
func TestVerifyEmptyNightSaysWhereItLooked(t *testing.T) {
	o := rawNight(t, 1)
	o.Nights = []string{"20260120"}
	var stdout, log bytes.Buffer
	ctx := logx.With(context.Background(), logx.New(&log, slog.LevelInfo, false))
	if err := runVerify(ctx, o, &stdout, io.Discard); err != nil {
		t.Fatalf("verify of an empty night: %v", err)
	}
	if !strings.HasPrefix(stdout.String(), "0 files: 0 ok") {
		t.Errorf("output %q", stdout.String())
	}
	l := o.Layout
	for _, want := range []string{
		"level=WARN", "no files to verify", "nights=20260120", "channels=mods1b",
		"raw=" + filepath.Join(l.DataDir, "mods1b"),
		"ledgers=" + ledger.Dir(l.StateDir, "mods1b"),
		"stored=" + filepath.Join(l.ProcDir, "20260120"),
		"newdata=" + l.RepoDir,
		`absent="` + ledger.Dir(l.StateDir, "mods1b") + ", " + filepath.Join(l.ProcDir, "20260120") + ", " + l.RepoDir + `"`,
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the warning lacks %q:\n%s", want, log.String())
		}
	}

	// With no channel at all, the folders where channels would be.
	o.Layout.DataDir = filepath.Join(t.TempDir(), "elsewhere")
	log.Reset()
	if err := runVerify(ctx, o, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nights=20260120", "channels=\"none found\"", "raw=" + o.Layout.DataDir,
		"ledgers=" + filepath.Dir(ledger.Path(l.StateDir, "x")), "stored=" + filepath.Join(l.ProcDir, "20260120")} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the warning lacks %q:\n%s", want, log.String())
		}
	}
}
