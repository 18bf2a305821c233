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
