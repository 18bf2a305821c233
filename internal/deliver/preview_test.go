package deliver

import (
	"errors"
	"os"
	"testing"
)

// TestPreviewAfterNew: the preview hook runs once the stored copy exists and
// <CHAN>.new names the frame, and its failure never fails the delivery.
func TestPreviewAfterNew(t *testing.T) {
	{
		var calls []string
		var fail error
		var e *env
		e = newEnv(t, func(o *Options) {
			o.Preview = func(stored string) error {
				calls = append(calls, stored)
				if _, err := os.Stat(stored); err != nil {
					t.Errorf("preview before the stored copy: %v", err)
				}
				if b, err := os.ReadFile(e.newPath()); err != nil || string(b) != rawName(1)+"\n" && string(b) != rawName(2)+"\n" {
					t.Errorf("preview before .new: %q, %v", b, err)
				}
				if err := os.WriteFile(stored+".png", []byte("png"), 0o644); err != nil {
					return err
				}
				return fail
			}
		})
		base := e.raw(1, 5000)
		rep := e.ensure(base, Deliver)
		if len(calls) != 1 || calls[0] != e.storedPath(base) {
			t.Fatalf("preview calls %q", calls)
		}
		if _, err := os.Stat(rep.Stored + ".png"); err != nil {
			t.Errorf("no preview: %v", err)
		}
		e.ensure(base, Deliver) // already delivered: nothing drawn again
		if len(calls) != 1 {
			t.Errorf("preview of a frame already delivered: %q", calls)
		}
		fail = errors.New("disk full")
		base = e.raw(2, 5000)
		if rep := e.ensure(base, Deliver); rep.Err != nil || rep.Dispatched == "" {
			t.Errorf("a failed preview failed the delivery: %+v", rep)
		}
		e.checkDelivered(base)
	}
}

// TestPreviewOff: with no hook (preview.enabled: N) nothing but the copies
// is written.
func TestPreviewOff(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	rep := e.ensure(base, Deliver)
	if _, err := os.Stat(rep.Stored + ".png"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("preview written with previews off: %v", err)
	}
}
