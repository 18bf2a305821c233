// Package condition is `dataman condition`: raw files conditioned into a
// folder (flat, or <obsdate>/ folders as in procDir) under the stored
// copies' collision rule, a deterministic share of a list for each task of
// a batch job array, and the summaries those tasks leave, gathered.
// Nothing is stored or delivered, and no ledger is written.
package condition
