// Package ledger keeps dataman's record of what happened to each raw file, one
// append-only text file per channel after the CFHT listfile: the latest line
// for a file and step says where that file stands.
//
// Format. The ledger of channel CHAN is <stateDir>/ledger/<CHAN>.ledger, CHAN
// in upper case (MODS1B.ledger). It is UTF-8 text, one event per line, each
// line ended by a newline. The first word is the raw file's base name; the
// rest are key=value fields separated by single spaces, for example
//
//	mods1b.20260119.0001.fits step=dispatch status=ok out_size=154653120 out_sha256=9f…e1 dest=/lbt/data/new/mods1b.20260119.0001.fits mtime=1768853600123456789 version=1.0.0 config=4c1d… attempt=1 time=2026-01-19T20:13:20.140812Z
//
// A value (or the file name) that is empty or contains a space, a tab, a
// double quote, an equals sign or any non-printable character is written as a
// Go double-quoted string (strconv.Quote), as in reason="open /lbt/data/new:
// no such file or directory"; any other value is written as is. The fields
// are step (condition, store, dispatch, verify or sweep); status (ok; already,
// when identical bytes were already in place; failed; pending, for a dispatch
// that will be retried; lost); raw_size and raw_sha256 (the raw file);
// out_size and out_sha256 (the file written); dest (its absolute path); mtime
// (dest's modification time in Unix nanoseconds, so that a later run can
// trust size and mtime without reading the file again); version (of
// dataman); config (hash of the configuration); attempt (1 for the first try
// of a step, counting up while it fails); reason (why a step failed or is
// pending); time (of the event, RFC 3339 in UTC, with nanoseconds); and, on
// condition and store lines, uniqname (the conditioned file's UNIQNAME, the
// name a collision renames to). Only step and status are required; a field
// with a zero value is left out, and fields may come in any order. Readers
// keep fields they do not know, so older versions can read newer ledgers.
// Lines are only ever appended, each with one write and an fsync. A last line
// without its newline was cut short by a crash: readers ignore it and the
// next writer to open the ledger removes it. A complete line that cannot be
// parsed is reported with its line number and skipped. The latest line for a
// file and step wins.
package ledger
