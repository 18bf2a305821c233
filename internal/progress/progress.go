package progress

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar counts finished items.
type Bar struct{ bar *progressbar.ProgressBar }

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// New returns a bar of total items drawn on w when enabled, else a no-op.
// progressbar cannot tell a terminal from a pipe, so the caller decides.
func New(w io.Writer, enabled bool, total int, what string) *Bar {
	if !enabled || total <= 1 {
		return &Bar{}
	}
	return &Bar{bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100e6),
	)}
}

// Add records n finished items.
func (b *Bar) Add(n int) {
	if b.bar != nil {
		_ = b.bar.Add(n)
	}
}

// Done removes the bar.
func (b *Bar) Done() {
	if b.bar != nil {
		_ = b.bar.Finish()
	}
}

// Enabled reports whether a bar is drawn.
func (b *Bar) Enabled() bool { return b.bar != nil }
