package exitcode

import (
	"errors"
	"fmt"
)

// The exit statuses every command documents in its EXIT STATUS section.
const (
	OK       = 0 // everything asked for was done
	Failure  = 1 // at least one file or step failed (the others were still done)
	Usage    = 2 // bad flags, arguments, config or schedule
	Problems = 3 // verify found files missing, differing or damaged
	Locked   = 4 // another sweep holds the lock (and --wait was not given or ran out)
)

// Error carries an exit status with the error to print. Hints are printed
// after the message, one "hint:" line each.
type Error struct {
	Code  int
	Err   error
	Hints []string
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code) // Silent: the details were printed
	}
	return e.Err.Error()
}
func (e *Error) Unwrap() error { return e.Err }

// New wraps err with a status.
func New(code int, err error, hints ...string) *Error {
	return &Error{Code: code, Err: err, Hints: hints}
}

// Usagef builds a usage error.
func Usagef(format string, args ...any) *Error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, args...)}
}

// Silent reports a status whose details were already printed (for example
// a summary that counted failures).
func Silent(code int) *Error { return &Error{Code: code} }

// Code returns the status for err: 0 for nil, the carried status for an
// *Error, else Failure.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Failure
}
