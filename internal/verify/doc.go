// Package verify is "dataman verify": it proves that every raw file's
// stored and dispatched copies exist, are byte-identical, have the SHA-256
// the ledger recorded, are sound FITS with a valid CHECKSUM and DATASUM on
// every HDU and a MERGED header that repeats the primary's, and, deep, that
// MERGED still follows from the raw file; it reports copies nobody accounts
// for; and with Fix it hands what can be repaired to the delivery path.
//
// What verify believes about a frame before reading a copy (which frames
// exist, the ledger's latest events, where the copies should be) comes from
// one place, state.go, through Channel.Frame. Verify reads the ledger and
// never opens it; its one write is the failed events of Fix (repair.go).
package verify
