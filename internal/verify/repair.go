package verify

import (
	"context"
	"slices"
	"strings"

	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/workers"
)

// repair hands each repairable file to the delivery path and verifies it
// again. The delivery path trusts a ledger record whose copy still has the
// recorded size and modification time, which a damaged copy can keep (bit
// rot, an edit that restored the time), so such records are first voided
// with a failed event, as the delivery path itself does when it finds a
// stored copy that no longer matches.
func repair(ctx context.Context, o Options, sel *selection, results []Result) error {
	log := logx.From(ctx)
	var todo []int
	for i, r := range results {
		// A copy the archive took is no problem, and is sent again only
		// when asked (--redeliver).
		taken := o.Redeliver && sel.targets[i].gen < 0 && sel.targets[i].state().taken()
		if !taken && (r.OK() || len(r.Redo) == 0) {
			continue
		}
		results[i].Before, results[i].BeforeWhat = r.Status, r.Problems
		if taken && len(r.Problems) == 0 {
			results[i].BeforeWhat = r.Notes
		}
		if sel.targets[i].gen >= 0 {
			results[i].FixError = "an earlier exposure: its raw file was replaced by another of the same name"
			continue
		}
		if slices.Contains(r.Redo, ledger.StepStore) && !sel.targets[i].state().HasRaw {
			results[i].FixError = "the stored copy must be made again and the raw file is gone"
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return nil
	}
	if err := voidRecords(o, sel, results, todo); err != nil {
		return err
	}
	d, err := o.Deliverer()
	if err != nil {
		return err
	}
	defer d.Close()
	bar := o.Progress("repairing", len(todo))
	workers.ForEach(ctx, len(todo), o.Jobs, func(k int) {
		i := todo[k]
		how := deliver.Deliver
		if o.Redeliver {
			how |= deliver.Redeliver
		}
		rep, err := d.Ensure(ctx, sel.targets[i].n.Base, how)
		results[i].Fixed = rep.Actions
		if err != nil {
			results[i].FixError = err.Error()
			log.Debug("repair failed", "file", results[i].File, "err", err) // the result line says it
		} else {
			log.Debug("repaired", "file", results[i].File, "actions", rep.Actions)
		}
		bar.Add(1)
	})
	bar.Done()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sel.reload(); err != nil {
		return err
	}
	workers.ForEach(ctx, len(todo), o.Jobs, func(k int) {
		i := todo[k]
		r := checkWatched(ctx, o, sel.targets[i].state())
		r.Before, r.BeforeWhat, r.Fixed, r.FixError = results[i].Before, results[i].BeforeWhat, results[i].Fixed, results[i].FixError
		r.Bytes += results[i].Bytes
		results[i] = r
	})
	return ctx.Err()
}

// voidRecords marks failed the ledger records that vouch for damaged
// copies. It is verify's only write of its own.
func voidRecords(o Options, sel *selection, results []Result, todo []int) error {
	ledgers := map[string]*ledger.Ledger{}
	defer func() {
		for _, l := range ledgers {
			l.Close()
		}
	}()
	for _, i := range todo {
		r := results[i]
		for _, step := range r.Invalidate {
			t := sel.targets[i]
			l := ledgers[t.n.Chan]
			if l == nil {
				var err error
				if l, err = ledger.Open(o.Layout.StateDir, t.n.Chan); err != nil {
					return err
				}
				ledgers[t.n.Chan] = l
			}
			ev := t.state().Ledger[step]
			err := l.Append(ledger.Event{
				File:    r.File,
				Step:    step,
				Status:  ledger.StatusFailed,
				Dest:    ev.Dest,
				Version: o.Version,
				Reason:  "verify: " + strings.Join(r.Problems, "; "),
				Attempt: ev.Attempt + 1,
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
