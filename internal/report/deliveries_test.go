package report

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
)

type fakeEnsurer map[string]error

func (f fakeEnsurer) Ensure(_ context.Context, name string, _ deliver.Mode) (deliver.Report, error) {
	err := f[name]
	rep := deliver.Report{File: name, Actions: []string{"stored /p/" + name}}
	if errors.Is(err, deliver.ErrPending) {
		rep.Pending = true
	}
	return rep, err
}

// Each result is said once: a failure on stderr with one prefix, a
// delivered or pending file on stdout, then the counts.
func TestDeliveriesSayEachResultOnce(t *testing.T) {
	bad := errors.New("b.fits: condition: read: truncated")
	pending := errors.Join(deliver.ErrPending, errors.New("c.fits: dispatch: /newdata: no such file or directory"))
	d := fakeEnsurer{"b.fits": bad, "c.fits": pending}
	var out, errw bytes.Buffer
	err := Deliveries(context.Background(), d, DeliveryOptions{Names: []string{"a.fits", "b.fits", "c.fits"}, Jobs: 2, Verb: "archive"}, &out, &errw)
	if exitcode.Code(err) != exitcode.Failure {
		t.Fatalf("err %v", err)
	}
	if got := errw.String(); got != "dataman: error: b.fits: condition: read: truncated\n" {
		t.Errorf("stderr %q", got)
	}
	o := out.String()
	for _, want := range []string{"ok      a.fits: stored /p/a.fits\n", "PENDING ", "archive: 3 files, 1 ok, 1 pending, 1 failed\n"} {
		if !strings.Contains(o, want) {
			t.Errorf("stdout lacks %q:\n%s", want, o)
		}
	}
	if strings.Count(o+errw.String(), "b.fits") != 1 {
		t.Errorf("the failure is said more than once:\n%s%s", o, errw.String())
	}
}

// Stopped by a signal, a batch says how far it got, not "context canceled".
func TestDeliveriesInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := Deliveries(ctx, fakeEnsurer{}, DeliveryOptions{Names: []string{"a.fits", "b.fits"}, Jobs: 1, Verb: "archive"}, &out, &out)
	if err == nil || strings.Contains(err.Error(), "context canceled") || !strings.Contains(err.Error(), "stopped by a signal after 0 of 2 files") {
		t.Fatalf("err %v", err)
	}
}
