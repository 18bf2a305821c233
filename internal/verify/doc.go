// Package verify holds the checks of "dataman verify" that need no FITS
// knowledge: which files a channel's raw folder and ledger say should exist,
// where their stored and dispatched copies are, and whether the copies are
// byte-identical and match the ledger. Nothing here writes a file, so the
// sweep can use it as well.
package verify
