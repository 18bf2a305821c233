package deliver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

// plan is Ensure in a dry run: it looks (ledger, stat) but never writes, so
// it reads the ledger file rather than opening it, which would create it.
func (d *Deliverer) plan(ctx context.Context, n frame.Name, kind Mode, rep *Report) error {
	j := &job{d: d, n: n, state: d.peekState(n), rep: rep, damaged: map[string]bool{}}
	stored, storeOK := j.trustedStore(ctx)
	if storeOK {
		if kind == Archive {
			return j.already("already stored", stored, "")
		}
		if dest, ok := j.trustedDispatch(ctx, stored); ok {
			what := "already delivered"
			if kind == DispatchOnly {
				what = "already dispatched"
			}
			return j.already(what, stored, dest)
		}
	}
	switch {
	case storeOK:
		j.action("would use stored copy %s", stored.path)
	case kind == DispatchOnly:
		path := d.opts.Stored(n)
		if ev := j.state[ledger.StepStore]; ev.Done() && ev.Dest != "" {
			path = ev.Dest
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%s: dispatch: %w", n.Base, err)
		}
		j.action("would check and use stored copy %s", path)
	default:
		raw := d.opts.Raw(n)
		if _, err := os.Stat(raw); err != nil {
			return fmt.Errorf("%s: condition: %w", n.Base, err)
		}
		j.action("would condition %s", raw)
		j.action("would store %s%s", d.opts.Stored(n), exists(d.opts.Stored(n), d.opts.Proc.Collision))
	}
	if kind == Archive {
		return nil
	}
	if _, err := os.Stat(d.opts.RepoDir); err != nil {
		rep.Pending = true
		j.action("dispatch would be pending: %v", err)
		return nil
	}
	j.action("would dispatch %s%s", d.opts.Dispatched(n), exists(d.opts.Dispatched(n), d.opts.Repo.Collision))
	j.action("would update %s", d.opts.LastFile(n))
	return nil
}

func exists(path string, pol Policy) string {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return fmt.Sprintf(" (a file is there: kept if identical, else collision policy %s)", pol)
}

// peekState is the ledger state of n without opening (and so creating) the
// ledger.
func (d *Deliverer) peekState(n frame.Name) map[string]ledger.Event {
	d.mu.Lock()
	l := d.ledgers[strings.ToUpper(n.Chan)]
	d.mu.Unlock()
	if l != nil {
		return l.State(n.Base)
	}
	state := map[string]ledger.Event{}
	events, _, err := ledger.Read(ledger.Path(d.opts.StateDir, n.Chan))
	if err != nil {
		return state
	}
	for _, ev := range events {
		if ev.File == n.Base {
			state[ev.Step] = ev
		}
	}
	return state
}
