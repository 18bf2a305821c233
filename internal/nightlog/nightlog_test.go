package nightlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/testtree"
)

// mixedNight is a night with a frame in each state the log shows and
// the bad input it must survive; it returns each frame's expected state.
func mixedNight(t *testing.T) (*tree, map[string]string) {
	tr := newTree(t)
	const mode = "1k-2x2"
	ok := tr.raw("mods1b", 1, mode, nil)
	taken := tr.raw("mods1b", 2, mode, nil)
	hostile := tr.raw("mods1b", 3, mode, func(f *synth.Frame) { f.Object = `<script>alert(1)</script> & <b>"x"</b>` })
	bare := tr.raw("mods1b", 4, mode, func(f *synth.Frame) {
		f.EditPrimary = func(h *fits.Header) {
			for _, k := range []string{"IMAGETYP", "AIRMASS", "MASKNAME", "GRATNAME", "FILTNAME"} {
				h.Delete(k)
			}
		}
	})
	garbage := "mods1b.20260119.0005.fits"
	if err := os.WriteFile(filepath.Join(tr.lay.DataDir, "mods1b", garbage), []byte(strings.Repeat("not a FITS file\n", 300)), 0o644); err != nil {
		t.Fatal(err)
	}
	tr.age(filepath.Join(tr.lay.DataDir, "mods1b", garbage))
	cut := tr.raw("mods1b", 7, mode, nil)
	lost := tr.raw("mods1b", 8, mode, nil)
	tr.deliver(ok, taken, hostile, bare, garbage, cut, lost)

	pending := tr.raw("mods1b", 6, mode, nil)
	if err := os.Rename(tr.lay.RepoDir, tr.lay.RepoDir+".away"); err != nil {
		t.Fatal(err)
	}
	tr.deliver(pending)
	if err := os.Rename(tr.lay.RepoDir+".away", tr.lay.RepoDir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(tr.lay.RepoDir, taken)); err != nil {
		t.Fatal(err)
	}
	// A stored copy cut short: there, with other content than recorded.
	if err := os.Truncate(tr.stored(cut), 3*fits.BlockLen); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(tr.lay.DataDir, "mods1b", lost), tr.stored(lost)} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	// A raw file still being written: its primary header and a block.
	writing := tr.raw("mods1r", 1, mode, nil)
	path := filepath.Join(tr.lay.DataDir, "mods1r", writing)
	f, err := fits.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	end := f.HDUs[0].End()
	f.Close()
	if err := os.Truncate(path, end+fits.BlockLen); err != nil {
		t.Fatal(err)
	}
	tr.age(path)
	return tr, map[string]string{
		ok: "delivered", taken: "taken", hostile: "delivered", bare: "delivered", garbage: "failed",
		pending: "pending", cut: "new", lost: "lost", writing: "new",
	}
}

func TestBuild(t *testing.T) {
	tr, want := mixedNight(t)
	rows := map[string]Row{}
	for _, r := range Build(context.Background(), tr.options(), night).Rows {
		if _, dup := rows[r.File]; dup {
			t.Errorf("%s has two rows", r.File)
		}
		rows[r.File] = r
	}
	for file, state := range want {
		r, ok := rows[file]
		if !ok {
			t.Errorf("%s has no row", file)
			continue
		}
		if r.State != state {
			t.Errorf("%s: state %s (%s), want %s", file, r.State, r.Why, state)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rows), len(want))
	}

	ok := rows["mods1b.20260119.0001.fits"]
	h := ok.Header
	if ok.From != "stored copy" || ok.Note != "" || h.UT != "2026-01-19T03:13:45.678" || h.Clock() != "03:13:45" ||
		h.ImageType != "OBJECT" || h.Object != "NGC 1068" || h.ExpTime != "60" || h.Mask != "LS60x5" ||
		h.Optics != "G400L / Clear" || h.Binning != "2×2" || !regexp.MustCompile(`^1\.[0-9]{3}$`).MatchString(h.Airmass) {
		t.Errorf("delivered frame's row: %+v", ok)
	}
	for q, b := range h.Bias {
		if !regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`).MatchString(b) {
			t.Errorf("Q%dBIAS %q", q+1, b)
		}
	}
	if ok.Thumb != tr.stored(ok.File)+".thumb.png" || ok.Preview != tr.stored(ok.File)+".png" || ok.Label() != "on /newdata" {
		t.Errorf("previews %q %q, label %q", ok.Thumb, ok.Preview, ok.Label())
	}
	if r := rows["mods1b.20260119.0002.fits"]; r.Header.Object != "NGC 1068" || r.Thumb == "" {
		t.Errorf("taken frame's row: %+v", r)
	}
	if r := rows["mods1b.20260119.0004.fits"]; r.Note != "" || r.Header.ImageType != "" || r.Header.Airmass != "" || r.Header.Mask != "" || r.Header.Optics != "" || r.Header.Object != "NGC 1068" {
		t.Errorf("missing keywords: %+v", r)
	}
	if r := rows["mods1b.20260119.0005.fits"]; r.From != "raw file" || !strings.Contains(r.Note, "raw file unreadable: not a FITS file") || !strings.Contains(r.Why, "conditioning failed") {
		t.Errorf("garbage raw file: %+v", r)
	}
	// No previews: they are drawn after .new.
	if r := rows["mods1b.20260119.0006.fits"]; !strings.HasPrefix(r.Why, "dispatch pending since ") || r.Header.Object != "NGC 1068" || r.Thumb != "" {
		t.Errorf("pending: %+v", r)
	}
	if r := rows["mods1b.20260119.0007.fits"]; r.From != "stored copy" || !strings.Contains(r.Note, "stored copy unreadable") || !strings.Contains(r.Note, "truncated") {
		t.Errorf("stored copy cut short: %+v", r)
	}
	if r := rows["mods1b.20260119.0008.fits"]; r.Note != "no stored copy and no raw file to read a header from" || r.Why == "" {
		t.Errorf("lost: %+v", r)
	}
	if r := rows["mods1r.20260119.0001.fits"]; r.From != "raw file" || r.Note != "" || r.Header.UT != "2026-01-19T03:13:45.678" || r.Header.Binning != "2×2" || r.Header.Optics != "G670L / GG495" || r.Thumb != "" {
		t.Errorf("raw file being written: %+v", r)
	}
}

// Newest first, by the exposure start, the frames of both channels mixed.
func TestBuildOrder(t *testing.T) {
	tr := newTree(t)
	var all []string
	for seq := 1; seq <= 3; seq++ {
		all = append(all, tr.raw("mods1b", seq, "1k-2x2", nil), tr.raw("mods1r", seq, "1k-2x2", nil))
	}
	// An exposure taken later under an earlier sequence number.
	all = append(all, tr.raw("mods1r", 4, "1k-2x2", func(f *synth.Frame) { f.Start = f.Start.Add(-time.Hour) }))
	tr.deliver(all...)
	var got []string
	for _, r := range Build(context.Background(), tr.options(), night).Rows {
		got = append(got, r.File)
	}
	want := []string{
		"mods1r.20260119.0003.fits", "mods1b.20260119.0003.fits", "mods1r.20260119.0002.fits",
		"mods1b.20260119.0002.fits", "mods1r.20260119.0001.fits", "mods1b.20260119.0001.fits", "mods1r.20260119.0004.fits",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("order\n%v\nwant\n%v", got, want)
	}
}

// The page escapes what the headers say, links the previews relative to
// the page, changes nothing, and with Embed stands alone.
func TestWrite(t *testing.T) {
	tr, want := mixedNight(t)
	before := testtree.State(t, filepath.Dir(tr.lay.DataDir))
	p := Build(context.Background(), tr.options(), night)
	var b bytes.Buffer
	if err := p.Write(&b, Links{Previews: night + "/"}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if strings.Contains(page, "<script") || strings.Contains(page, "<b>") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;&#34;x&#34;&lt;/b&gt;") {
		t.Errorf("the hostile OBJECT is not escaped:\n%s", grepLine(page, "alert"))
	}
	for file, state := range want {
		if !strings.Contains(page, `<tr data-file="`+file+`" data-state="`+state+`">`) {
			t.Errorf("no row for %s in state %s", file, state)
		}
	}
	thumb := `<a href="20260119/mods1b.20260119.0001.fits.png"><img src="20260119/mods1b.20260119.0001.fits.thumb.png"`
	if !strings.Contains(page, thumb) || strings.Contains(page, "http-equiv") || strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Errorf("page lacks %s, or refreshes, or links out:\n%s", thumb, page)
	}

	b.Reset()
	if err := p.Write(&b, Links{Embed: true, Previews: "ignored/"}); err != nil {
		t.Fatal(err)
	}
	page = html.UnescapeString(b.String()) // the attribute escapes + as &#43;
	srcs := regexp.MustCompile(`<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(page, -1)
	if len(srcs) != 5 || strings.Contains(page, "ignored/") || strings.Contains(page, "<a href") {
		t.Errorf("embedded page: %d thumbnails, want 5 (the frames delivered and the one cut short since), or links to files", len(srcs))
	}
	for _, m := range srcs {
		raw, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil {
			t.Fatal(err)
		}
		if img, err := png.Decode(bytes.NewReader(raw)); err != nil || img.Bounds().Dx() < 50 {
			t.Errorf("embedded thumbnail: %v", err)
		}
	}
	if ch := testtree.Changes(before, testtree.State(t, filepath.Dir(tr.lay.DataDir))); len(ch) > 0 {
		t.Errorf("the night log changed the tree:\n%s", strings.Join(ch, "\n"))
	}
}

func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
