package exitcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestCode(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, OK},
		{errors.New("plain"), Failure},
		{Usagef("bad flag %q", "x"), Usage},
		{fmt.Errorf("wrapped: %w", New(Locked, errors.New("held"))), Locked},
		{Silent(Problems), Problems},
	}
	for _, c := range cases {
		if got := Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}
