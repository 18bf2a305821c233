// Package deliver is dataman's one delivery path: Ensure takes a raw file
// through condition, store and dispatch, records every step in the ledger, and
// does nothing for a file that is already delivered.
package deliver
