package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/progress"
	"github.com/obsdata/dataman/internal/workers"
)

// DeliveryResult is one file's line in the summary.
type DeliveryResult struct {
	File       string   `json:"file"`
	OK         bool     `json:"ok"`
	Already    bool     `json:"already,omitempty"`
	Pending    bool     `json:"pending,omitempty"`
	Stored     string   `json:"stored,omitempty"`
	Dispatched string   `json:"dispatched,omitempty"`
	Actions    []string `json:"actions,omitempty"`
	Error      string   `json:"error,omitempty"`
	Seconds    float64  `json:"seconds"`
}

type DeliveryOptions struct {
	Names    []string
	Mode     deliver.Mode
	Jobs     int
	JSON     bool
	Progress bool
	Verb     string
}

// Ensurer is the one delivery path, as a batch sees it.
type Ensurer interface {
	Ensure(ctx context.Context, rawName string, how deliver.Mode) (deliver.Report, error)
}

// Deliveries takes each of o.Names through the delivery path, jobs at a
// time, and reports: a failure once, on stderr, as it happens (above the
// progress bar); one line per file delivered or pending and a summary on
// stdout (or JSON); the per-file detail at debug level.
func Deliveries(ctx context.Context, d Ensurer, o DeliveryOptions, stdout, stderr io.Writer) error {
	log := logx.From(ctx)
	results := make([]DeliveryResult, len(o.Names))
	done := make([]bool, len(o.Names))
	bar := progress.New(stderr, o.Progress, len(o.Names), o.Verb)
	workers.ForEach(ctx, len(o.Names), o.Jobs, func(i int) {
		start := time.Now()
		rep, err := d.Ensure(ctx, o.Names[i], o.Mode)
		r := DeliveryResult{File: o.Names[i], Already: rep.Already, Pending: rep.Pending, Stored: rep.Stored,
			Dispatched: rep.Dispatched, Actions: rep.Actions, Seconds: time.Since(start).Seconds()}
		switch {
		case err == nil:
			r.OK = true
			log.Debug(o.Verb, "file", o.Names[i], "actions", strings.Join(rep.Actions, "; "),
				"condition", rep.Timings.Condition, "store", rep.Timings.Store, "dispatch", rep.Timings.Dispatch)
		case errors.Is(err, deliver.ErrPending):
			r.Error = err.Error()
		default:
			// Said once, as it happens, above the progress bar; the
			// summary counts it.
			r.Error = err.Error()
			if !o.JSON {
				Error(stderr, err)
			}
		}
		results[i], done[i] = r, true
		bar.Add(1)
	})
	bar.Done()
	failed, pending, finished := 0, 0, 0
	for i, r := range results {
		switch {
		case !done[i]:
			continue
		case r.Pending:
			pending++
		case !r.OK:
			failed++
		}
		finished++
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results[:finished]); err != nil {
			return err
		}
	} else {
		dry := ""
		if o.Mode&deliver.DryRun != 0 {
			dry = " (dry run: nothing changed)"
		}
		for i, r := range results {
			switch {
			case !done[i] || !r.OK && !r.Pending:
			case r.Pending:
				msg := r.Error
				if msg == "" {
					msg = r.File + ": " + strings.Join(r.Actions, "; ")
				}
				fmt.Fprintf(stdout, "PENDING %s\n", msg)
			default:
				fmt.Fprintf(stdout, "ok      %s: %s\n", r.File, strings.Join(r.Actions, "; "))
			}
		}
		fmt.Fprintf(stdout, "%s: %d files, %d ok, %d pending, %d failed%s\n", o.Verb, finished, finished-failed-pending, pending, failed, dry)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: stopped by a signal after %d of %d files; run it again to do the rest (files done are left alone)",
			o.Verb, finished, len(o.Names))
	}
	if failed+pending > 0 {
		return exitcode.Silent(exitcode.Failure)
	}
	return nil
}
