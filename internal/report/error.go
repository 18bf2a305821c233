package report

import (
	"errors"
	"fmt"
	"io"

	"github.com/obsdata/dataman/internal/exitcode"
)

// Error writes err as dataman reports errors: "dataman: error: …", then
// its hints, one "hint: …" line each. An exit status without a message
// (its details were printed already) writes nothing.
func Error(w io.Writer, err error) {
	if err == nil {
		return
	}
	var e *exitcode.Error
	if errors.As(err, &e) {
		if e.Err == nil {
			return
		}
		fmt.Fprintf(w, "dataman: error: %v\n", e.Err)
		for _, h := range e.Hints {
			fmt.Fprintf(w, "hint: %s\n", h)
		}
		return
	}
	fmt.Fprintf(w, "dataman: error: %v\n", err)
}
