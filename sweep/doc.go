// Package sweep reconciles, for the nights in scope, the raw folders with the
// stored copies, the /newdata copies and the ledger, and backfills whatever
// the datagram path missed, so that no single lost trigger loses a frame.
//
// A sweep observes (directory listings, sizes and mtimes, the ledgers; a
// file is read only when its mtime no longer matches the ledger), plans with
// a pure function (State.Plan), and applies the plan through the one delivery
// path, deliver.Deliverer.Ensure; it never conditions or copies a file
// itself. A second sweep right after the first plans nothing.
//
// # Use from listen
//
// listen reconciles in-process by calling Run with its own Deliverer and a
// Lock on the same state directory as the sweep command:
//
//	lock := sweep.NewLock(cfg.Paths.StateDir)
//	sum, err := sweep.Run(ctx, sweep.Options{
//		Deliverer:   d, // the *deliver.Deliverer the workers use
//		MinAge:      cfg.Sweep.MinAge,
//		Lock:        lock,
//		RepoTimeout: cfg.Repo.Timeout,
//		Version:     version,
//		Log:         log,
//	})
//	var held *sweep.HeldError
//	if errors.As(err, &held) {
//		// a `dataman sweep` is at work (held.PID): it does the job this time
//	}
//
// The flock excludes other processes and other Lock values in the same
// process alike, so the command and listen never sweep at once. Run takes
// and releases the lock itself; with Options.Lock nil it takes none. Nights
// left empty mean frame.DefaultNights: the current and previous observing night
// under both the UTC and the local noon-to-noon conventions (spec 2.1).
// Sharing the Deliverer matters: Ensure waits for a file the workers are
// delivering instead of racing them.
//
// Run returns an error only when the sweep could not run (the lock is held,
// the raw folder cannot be read, ctx ended). Failed and pending actions are
// counted in Summary.Failed, and what could not be checked is in
// Summary.Problems.
package sweep
