package nightlog

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, method, target string) (int, http.Header, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Result().Header, string(b)
}

func TestHandlerPages(t *testing.T) {
	tr, want := mixedNight(t)
	o := tr.options()
	// During the night of 2026-01-19, then a day later.
	now := time.Date(2026, 1, 19, 6, 0, 0, 0, time.UTC)
	o.Status.Judge.Now = func() time.Time { return now }
	h := Handler(o, slog.New(slog.DiscardHandler))

	code, hdr, body := get(t, h, "GET", "/")
	if code != 200 || hdr.Get("Content-Type") != "text/html; charset=utf-8" || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("GET /: %d %v", code, hdr)
	}
	if !strings.Contains(body, `<meta http-equiv="refresh" content="30">`) || !strings.Contains(body, `<img src="night/20260119/mods1b.20260119.0001.fits.thumb.png"`) ||
		!strings.Contains(body, `href="night/20260118"`) || strings.Contains(body, `href="night/20260120"`) {
		t.Errorf("GET / is not the current night's page, refreshing, with links relative to /:\n%s", body)
	}
	for file := range want {
		if !strings.Contains(body, `data-file="`+file+`"`) {
			t.Errorf("GET /: no row for %s", file)
		}
	}

	now = now.Add(24 * time.Hour)
	code, _, body = get(t, h, "GET", "/night/20260119")
	if code != 200 || strings.Contains(body, "http-equiv") || !strings.Contains(body, `<img src="20260119/mods1b.20260119.0001.fits.thumb.png"`) ||
		!strings.Contains(body, `href="20260120"`) || strings.Count(body, "<tr data-file=") != len(want) {
		t.Errorf("GET /night/20260119 a night later: %d\n%s", code, body)
	}
	if code, _, body = get(t, h, "GET", "/"); code != 200 || !strings.Contains(body, "No frames of this night yet.") {
		t.Errorf("GET / of a night with no frames: %d\n%s", code, body)
	}
	for _, target := range []string{"/night/2026011", "/night/20261399", "/night/x", "/nights", "/night/20260119/x/y"} {
		if code, _, _ := get(t, h, "GET", target); code != 404 {
			t.Errorf("GET %s: %d, want 404", target, code)
		}
	}
	if code, _, _ := get(t, h, "POST", "/"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", code)
	}
}

// Only preview files of procDir/<night>/ are served, as regular files: no
// other file, no path out of the folder, no link.
func TestHandlerPreviews(t *testing.T) {
	tr, _ := mixedNight(t)
	h := Handler(tr.options(), slog.New(slog.DiscardHandler))
	thumb := tr.stored("mods1b.20260119.0001.fits") + ".thumb.png"
	want, err := os.ReadFile(thumb)
	if err != nil {
		t.Fatal(err)
	}
	code, hdr, body := get(t, h, "GET", "/night/20260119/mods1b.20260119.0001.fits.thumb.png")
	if code != 200 || body != string(want) || hdr.Get("Content-Type") != "image/png" || hdr.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("thumbnail: %d %v, %d bytes, want %d", code, hdr, len(body), len(want))
	}
	if code, _, body := get(t, h, "GET", "/night/20260119/mods1b.20260119.0001.fits.png"); code != 200 || !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("preview: %d", code)
	}

	// Bait: PNG-named files outside the night's folder, and links to them
	// and to a stored copy inside it.
	secret := filepath.Join(filepath.Dir(tr.lay.ProcDir), "secret.fits.png")
	inProc := filepath.Join(tr.lay.ProcDir, "secret.fits.png")
	for _, p := range []string{secret, inProc} {
		if err := os.WriteFile(p, []byte("secret"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(tr.lay.ProcDir, night)
	for name, target := range map[string]string{
		"out.fits.png": secret, "up.fits.png": "../secret.fits.png", "fits.fits.png": filepath.Join(dir, "mods1b.20260119.0001.fits"),
	} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "dir.fits.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{
		"/night/20260119/mods1b.20260119.0001.fits",             // the stored copy itself
		"/night/20260119/..%2Fsecret.fits.png",                  // up, escaped
		"/night/20260119/..%2F..%2Fsecret.fits.png",             //
		"/night/20260119/%2E%2E%2Fsecret.fits.png",              //
		"/night/20260119/out.fits.png",                          // a link out of procDir
		"/night/20260119/up.fits.png",                           // a link to procDir
		"/night/20260119/dir.fits.png",                          // not a file
		"/night/20260119/.fits.png",                             //
		"/night/..%2F..%2Fsecret/mods1b.20260119.0001.fits.png", // the night
		"/night/20260119/absent.fits.thumb.png",
		"/night/20260120/mods1b.20260119.0001.fits.thumb.png", // another night's folder, not there
	} {
		code, _, body := get(t, h, "GET", target)
		if code != 404 || strings.Contains(body, "secret") || strings.Contains(body, "SIMPLE") {
			t.Errorf("GET %s: %d %q, want 404", target, code, body)
		}
	}
}
