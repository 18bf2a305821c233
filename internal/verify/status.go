package verify

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Status is a file's verdict, one character as in rclone's check report.
type Status byte

// The statuses.
const (
	OK      Status = '=' // every copy present, identical, and as the ledger recorded it
	Missing Status = '-' // a copy that should exist does not
	Extra   Status = '+' // a copy that neither the raw folder nor the ledger knows
	Differs Status = '*' // a copy whose bytes are not what they should be
	Error   Status = '!' // a copy that cannot be read or is not sound FITS
)

// rank orders the statuses so that a file with several problems shows the
// one that most needs a person: unreadable before damaged before absent.
func (s Status) rank() int {
	switch s {
	case Extra:
		return 1
	case Missing:
		return 2
	case Differs:
		return 3
	case Error:
		return 4
	}
	return 0
}

// Worse returns the more serious of a and b.
func Worse(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	if a == 0 {
		return OK
	}
	return a
}

// Word names the status for people and JSON readers.
func (s Status) Word() string {
	switch s {
	case OK, 0:
		return "ok"
	case Missing:
		return "missing"
	case Extra:
		return "extra"
	case Differs:
		return "differs"
	case Error:
		return "error"
	}
	return fmt.Sprintf("status %q", byte(s))
}

func (s Status) String() string {
	if s == 0 {
		return string(OK)
	}
	return string(s)
}

// MarshalText writes the one-character form.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is the verdict on one file: a raw file's copies, or one extra copy.
type Result struct {
	File       string // raw base name; for an extra copy, its path
	Status     Status
	Problems   []string // one reason per problem found, in the order found
	Stored     string   // the stored copy checked, if there is one
	Dispatched string   // the dispatched copy checked, if there is one
	SHA256     string   // of the stored copy, else the dispatched one
	Bytes      int64    // size of the files read to reach the verdict
	Notes      []string // what is worth saying of a file that is fine (a copy the archive took)

	// Redo lists the ledger steps (store, dispatch) the delivery path
	// must do again to repair the file: a copy missing, damaged, or not
	// what the ledger recorded. Extra copies and a MERGED image that differs
	// from its recomputation are not in it: they are for a person to judge.
	Redo []string
	// Invalidate lists the steps whose ledger record vouches for a damaged
	// copy: the delivery path trusts such a record unless it is voided.
	Invalidate []string

	// Set by --fix: what the delivery path did, and the verdict before.
	Fixed      []string
	FixError   string
	Before     Status
	BeforeWhat []string
}

// Flag records a problem and raises the status to s if s is worse.
func (r *Result) Flag(s Status, format string, args ...any) {
	r.Status = Worse(r.Status, s)
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// redo adds step to Redo, and to Invalidate too if void.
func (r *Result) redo(step string, void bool) {
	if !slices.Contains(r.Redo, step) {
		r.Redo = append(r.Redo, step)
	}
	if void && !slices.Contains(r.Invalidate, step) {
		r.Invalidate = append(r.Invalidate, step)
	}
}

// OK reports a result with no problem.
func (r *Result) OK() bool { return r.Status == OK || r.Status == 0 }

// MarshalJSON adds the status word beside the character, for scripts that
// filter with jq.
func (r Result) MarshalJSON() ([]byte, error) {
	type out struct {
		File       string   `json:"file"`
		Status     Status   `json:"status"`
		State      string   `json:"state"`
		Problems   []string `json:"problems,omitempty"`
		Notes      []string `json:"notes,omitempty"`
		Stored     string   `json:"stored,omitempty"`
		Dispatched string   `json:"dispatched,omitempty"`
		SHA256     string   `json:"sha256,omitempty"`
		Bytes      int64    `json:"bytes"`
		Fixed      []string `json:"fixed,omitempty"`
		FixError   string   `json:"fix_error,omitempty"`
		Before     *Status  `json:"before,omitempty"`
		BeforeWhat []string `json:"before_problems,omitempty"`
	}
	o := out{File: r.File, Status: Worse(r.Status, OK), State: r.Status.Word(), Problems: r.Problems, Notes: r.Notes,
		Stored: r.Stored, Dispatched: r.Dispatched, SHA256: r.SHA256, Bytes: r.Bytes,
		Fixed: r.Fixed, FixError: r.FixError, BeforeWhat: r.BeforeWhat}
	if r.Before != 0 {
		o.Before = &r.Before
	}
	return json.Marshal(o)
}
