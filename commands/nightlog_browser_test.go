package commands

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
)

// chromium finds Debian's chromium. In CI a missing browser fails the
// test; elsewhere it skips it.
func chromium(t *testing.T) string {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is not installed (.ci/run installs Debian's chromium): %v", err)
		}
		t.Skipf("chromium is not installed: %v", err)
	}
	return path
}

// browserRow is what the page shows of a frame, as the browser sees it.
type browserRow struct {
	File   string `json:"file"`
	State  string `json:"state"`
	Label  string `json:"label"`
	Object string `json:"object"`
	Thumbs []int  `json:"thumbs"` // each thumbnail's naturalWidth
}

// TestNightlogInBrowser opens the night log of a synthetic night, served
// by the real listen, in headless Chromium: every frame has its row, every
// thumbnail loads, and the states shown are the judge's.
func TestNightlogInBrowser(t *testing.T) {
	browser := chromium(t)
	root := t.TempDir()
	lay := frame.Layout{DataDir: filepath.Join(root, "raw"), ProcDir: filepath.Join(root, "proc"), RepoDir: filepath.Join(root, "newdata"), StateDir: filepath.Join(root, "state")}
	set := []string{"--log-level", "error", "--set", "delivery.repo.consumed=Y", "--set", "sweep.minAge=1h"}
	for key, dir := range map[string]string{"dataDir": lay.DataDir, "procDir": lay.ProcDir, "repoDir": lay.RepoDir, "stateDir": lay.StateDir} {
		set = append(set, "--set", "paths."+key+"="+dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// Eight frames of two channels, a raw file that is no FITS file, then
	// a frame just taken, and a copy the archive took.
	old := time.Now().Add(-2 * time.Hour)
	write := func(ch string, seq int, edit func(*synth.Frame)) string {
		f := synth.Default(ch, seq, "1k-2x2")
		if edit != nil {
			edit(&f)
		}
		if err := os.MkdirAll(filepath.Join(lay.DataDir, ch), 0o755); err != nil {
			t.Fatal(err)
		}
		path, err := synth.WriteFile(filepath.Join(lay.DataDir, ch), f)
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	for seq := 1; seq <= 4; seq++ {
		write("mods1b", seq, func(f *synth.Frame) { f.ImageType = []string{"object", "flat", "comp", "bias"}[seq-1] })
		write("mods1r", seq, func(f *synth.Frame) { f.Object = fmt.Sprintf(`<b>target %d</b> & "co"`, seq) })
	}
	bad := filepath.Join(lay.DataDir, "mods1b", "mods1b.20260119.0005.fits")
	if err := os.WriteFile(bad, bytes.Repeat([]byte("not a FITS file\n"), 300), 0o644); err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(lay.DataDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	if _, err := runApp(t, append([]string{"archive", "--dispatch", "--night", "20260119"}, set...)...); err == nil {
		t.Fatal("archive of a night with a broken raw file exited 0")
	}
	if err := os.Remove(filepath.Join(lay.RepoDir, "mods1r.20260119.0002.fits")); err != nil {
		t.Fatal(err)
	}
	write("mods1r", 5, nil) // young: left to its datagram
	want := map[string]string{
		"mods1b.20260119.0001.fits": "delivered", "mods1b.20260119.0002.fits": "delivered", "mods1b.20260119.0003.fits": "delivered",
		"mods1b.20260119.0004.fits": "delivered", "mods1b.20260119.0005.fits": "failed",
		"mods1r.20260119.0001.fits": "delivered", "mods1r.20260119.0002.fits": "taken", "mods1r.20260119.0003.fits": "delivered",
		"mods1r.20260119.0004.fits": "delivered", "mods1r.20260119.0005.fits": "young",
	}

	// The real listen, on loopback ports of its choosing.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	listenCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		app := New("test")
		var out, errs bytes.Buffer
		app.Writer, app.ErrWriter = &out, &errs
		done <- app.RunContext(listenCtx, append([]string{"dataman", "listen", "--addr", "127.0.0.1:0", "--http", "127.0.0.1:0"}, set...))
	}()
	defer func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("listen: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("listen did not stop within 30 s")
		}
	}()
	addr := waitHTTP(t, ctx, lay.StateDir, done)

	// The judge, asked directly, once listen's start-up sweep is over.
	jv, err := judge.New(judge.Options{Layout: lay, Consumed: true, MinAge: time.Hour}).Nights(ctx, []string{"20260119"})
	if err != nil {
		t.Fatal(err)
	}
	judged := map[string]string{}
	for _, f := range jv.Frames {
		judged[f.Name.Base] = f.Status()
	}
	for file, state := range want {
		if judged[file] != state {
			t.Errorf("the judge says %s is %q; the test wants %q", file, judged[file], state)
		}
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1500, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// The first action starts the browser, under ctx's bound; each later
	// one has its own.
	if err := chromedp.Do(bctx, chromedp.Navigate("http://"+addr+"/night/20260119")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	tctx, cancelRun := context.WithTimeout(bctx, 60*time.Second)
	defer cancelRun()
	if err := chromedp.Do(tctx, chromedp.WaitReady("table")); err != nil {
		t.Fatalf("chromium: the page has no table: %v", err)
	}
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`Array.from(document.images).every(i => i.complete)`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("chromium: the images did not finish loading: %v", err)
	}
	title, err := chromedp.Run(tctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(tctx, chromedp.Evaluate[[]browserRow](`Array.from(document.querySelectorAll("tr[data-file]")).map(r => ({
		file: r.dataset.file, state: r.dataset.state,
		label: r.querySelector(".state").textContent, object: r.querySelector("td.obj").textContent,
		thumbs: Array.from(r.querySelectorAll("img")).map(i => i.naturalWidth)}))`))
	if err != nil {
		t.Fatalf("chromium: reading the rows: %v", err)
	}
	shot, err := chromedp.Run(tctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("chromium: screenshot: %v", err)
	}
	if title != "Night log 2026-01-19" {
		t.Errorf("title %q", title)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.File] {
			t.Errorf("%s has two rows", r.File)
		}
		seen[r.File] = true
		if r.State != judged[r.File] {
			t.Errorf("%s: the page shows %q, the judge says %q", r.File, r.State, judged[r.File])
		}
		if wantLabel := map[string]string{"delivered": "on /newdata"}[r.State]; wantLabel != "" && r.Label != wantLabel {
			t.Errorf("%s: label %q", r.File, r.Label)
		}
		stored := r.State == "delivered" || r.State == "taken"
		if stored && len(r.Thumbs) != 1 || !stored && len(r.Thumbs) != 0 {
			t.Errorf("%s (%s): %d thumbnails", r.File, r.State, len(r.Thumbs))
		}
		for _, w := range r.Thumbs {
			if w <= 0 {
				t.Errorf("%s: its thumbnail did not load (naturalWidth %d)", r.File, w)
			}
		}
		if strings.HasPrefix(r.File, "mods1r") && r.State == "delivered" && !strings.HasPrefix(r.Object, "<b>target ") {
			t.Errorf("%s: OBJECT shown as %q, want the header's text as text", r.File, r.Object)
		}
	}
	for file := range judged {
		if !seen[file] {
			t.Errorf("%s has no row", file)
		}
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for f := range seen {
			if !yield(f) {
				return
			}
		}
	}); len(got) != len(want) {
		t.Errorf("rows %v, want the %d frames", got, len(want))
	}

	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	colors := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colors[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	if b.Dx() < 800 || b.Dy() < 400 || len(colors) < 50 {
		t.Errorf("screenshot %v with %d colours: blank or trivial", b, len(colors))
	}
	if dst := os.Getenv("NIGHTLOG_SCREENSHOT"); dst != "" {
		if err := os.WriteFile(dst, shot, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// waitHTTP waits for listen's .status to name its HTTP address.
func waitHTTP(t *testing.T, ctx context.Context, stateDir string, done <-chan error) string {
	t.Helper()
	for {
		if b, err := os.ReadFile(filepath.Join(stateDir, control.StatusFile)); err == nil {
			if state, f, err := control.ParseStatus(string(b)); err == nil && f["http"] != "" && state != control.Starting {
				return f["http"]
			}
		}
		select {
		case err := <-done:
			t.Fatalf("listen stopped: %v", err)
		case <-ctx.Done():
			t.Fatal("listen did not name its HTTP address")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
