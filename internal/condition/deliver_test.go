package condition

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/preview"
)

// TestConditionerLogsWarnings: what conditioning could not do reaches the
// log of the delivery path, with the file, as it does for condition.
func TestConditionerLogsWarnings(t *testing.T) {
	raw, err := synth.WriteFile(t.TempDir(), synth.Default("mods1b", 1, "1k-2x2"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(raw, bytes.Replace(b, []byte("UTC-OBS ="), []byte("XTC-OBS ="), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ctx := logx.With(context.Background(), logx.New(&log, slog.LevelInfo, false))
	out, err := os.Create(filepath.Join(t.TempDir(), "out.fits"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := (ForDelivery{Opts: fits.AllSteps("test", "")}).Condition(ctx, raw, out); err != nil {
		t.Fatal(err)
	}
	if s := log.String(); !strings.Contains(s, "UTC-OBS") || !strings.Contains(s, raw) {
		t.Errorf("log %q lacks the warning about UTC-OBS with the file", s)
	}
}

// TestGatheredPreviews: the previews gathered while a frame is conditioned
// are the ones drawn from the stored file, byte for byte, and the stored
// file is not read for them.
func TestGatheredPreviews(t *testing.T) {
	for _, asinh := range []bool{false, true} {
		dir := t.TempDir()
		raw, err := synth.WriteFile(dir, synth.Default("mods1b", 1, "1k-2x2"))
		if err != nil {
			t.Fatal(err)
		}
		stored := filepath.Join(dir, "stored.fits")
		out, err := os.Create(stored)
		if err != nil {
			t.Fatal(err)
		}
		po := preview.Options{Asinh: asinh}
		info, err := (ForDelivery{Opts: fits.AllSteps("test", ""), Preview: &po}).Condition(context.Background(), raw, out)
		out.Close()
		if err != nil {
			t.Fatal(err)
		}
		if info.Preview == nil {
			t.Fatal("nothing gathered for the previews")
		}
		// A copy to draw from the file, and the stored file made unreadable:
		// the gathered previews must not need it.
		ref := filepath.Join(dir, "ref.fits")
		b, err := os.ReadFile(stored)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ref, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(stored, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := info.Preview(stored); err != nil {
			t.Fatal(err)
		}
		if _, err := preview.Write(ref, po); err != nil {
			t.Fatal(err)
		}
		got, gotThumb := preview.Paths(stored)
		want, wantThumb := preview.Paths(ref)
		for _, p := range [][2]string{{got, want}, {gotThumb, wantThumb}} {
			g, err1 := os.ReadFile(p[0])
			w, err2 := os.ReadFile(p[1])
			if err1 != nil || err2 != nil || !bytes.Equal(g, w) || len(g) == 0 {
				t.Errorf("asinh %v: %s (%d bytes, %v) differs from %s (%d bytes, %v)", asinh, p[0], len(g), err1, p[1], len(w), err2)
			}
		}
	}
	// Without previews nothing is gathered.
	dir := t.TempDir()
	raw, err := synth.WriteFile(dir, synth.Default("mods1b", 1, "1k-2x2"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "stored.fits"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if info, err := (ForDelivery{Opts: fits.AllSteps("test", "")}).Condition(context.Background(), raw, out); err != nil || info.Preview != nil {
		t.Fatalf("previews off: %v, gathered %v", err, info.Preview != nil)
	}
}

// BenchmarkPreviewCost conditions a full frame for the delivery path,
// without previews, with them gathered while conditioning, and gathered
// then drawn into PNG files: the differences are what the previews cost a
// frame. The
// conditioned bytes go to /dev/null, so that the disk's pace with 154 MB a
// frame to write does not drown the difference.
//
//	go test ./internal/condition -run '^$' -bench PreviewCost -count 9
func BenchmarkPreviewCost(b *testing.B) {
	dir := b.TempDir()
	raw, err := synth.WriteFile(dir, synth.Default("mods1b", 1, "full"))
	if err != nil {
		b.Fatal(err)
	}
	stored := filepath.Join(dir, "stored.fits") // where the previews go
	for _, name := range []string{"off", "gathered", "on"} {
		c := ForDelivery{Opts: fits.AllSteps("bench", "")}
		if name != "off" {
			c.Preview = &preview.Options{}
		}
		b.Run(name, func(b *testing.B) {
			out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				b.Fatal(err)
			}
			defer out.Close()
			for range b.N {
				info, err := c.Condition(context.Background(), raw, out)
				if err != nil {
					b.Fatal(err)
				}
				if info.Preview != nil && name == "on" {
					if err := info.Preview(stored); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
