// Package judge is the one place that decides what a frame is and what
// state it is in. It observes a frame or the nights in scope — the raw
// folders, the stored copies, the /newdata copies and the ledger — through
// file operations under stall timeouts, and judges each frame with one set
// of rules (JudgeCopy, JudgeNewdata, Identify, Decide): its identity (name
// and raw content), whether each copy is sound, and what is needed to make
// it delivered. The delivery path asks it before it acts; sweep, verify,
// every dry run and status ask it too. It never writes.
package judge
