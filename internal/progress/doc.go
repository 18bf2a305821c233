// Package progress shows a progress bar when stderr is a terminal and
// nothing otherwise (under systemd or cron the per-file log lines are the
// progress), so callers never need to know where they run.
package progress
