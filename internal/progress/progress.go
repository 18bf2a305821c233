package progress

import (
	"io"
	"os"
	"sync"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Console is stderr shared by a progress bar and the lines written above
// it (warnings, errors): each line clears the bar first, and the bar is
// drawn again below it, so that neither breaks the other.
type Console struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
}

// NewConsole wraps w.
func NewConsole(w io.Writer) *Console { return &Console{w: w} }

// Write writes p above the bar, if one is drawn.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != nil {
		_ = c.bar.Clear()
	}
	n, err := c.w.Write(p)
	if c.bar != nil {
		_ = c.bar.RenderBlank()
	}
	return n, err
}

func (c *Console) attach(b *progressbar.ProgressBar) {
	c.mu.Lock()
	c.bar = b
	c.mu.Unlock()
}

// Bar counts finished items.
type Bar struct {
	bar     *progressbar.ProgressBar
	console *Console
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// New returns a bar of total items drawn on w when enabled, else a no-op.
// progressbar cannot tell a terminal from a pipe, so the caller decides.
// On a Console, lines written to it meanwhile appear above the bar.
func New(w io.Writer, enabled bool, total int, what string) *Bar {
	if !enabled || total <= 1 {
		return &Bar{}
	}
	c, _ := w.(*Console)
	if c != nil {
		w = c.w
	}
	b := &Bar{console: c, bar: progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionThrottle(100e6),
	)}
	if c != nil {
		c.attach(b.bar)
	}
	return b
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
		if b.console != nil {
			b.console.attach(nil)
		}
		_ = b.bar.Finish()
	}
}

// Enabled reports whether a bar is drawn.
func (b *Bar) Enabled() bool { return b.bar != nil }
