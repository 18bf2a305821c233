package sweep

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
)

// LastName is the file in the state directory where every sweep that is
// not a dry run records what it did, for dataman status.
const LastName = "last-sweep"

// Last is what the last sweep did: when, over which nights, and its counts.
type Last struct {
	Time      time.Time    `json:"time"` // when it finished
	Seconds   float64      `json:"seconds"`
	Nights    []string     `json:"nights"`
	Actions   map[Kind]int `json:"actions"` // done or tried, by kind
	Failed    int          `json:"failed"`  // actions that failed or are pending
	Deferred  int          `json:"deferred"`
	FailedRaw int          `json:"failed_raw"`
	Problems  int          `json:"problems"`
	Error     string       `json:"error,omitempty"` // why it stopped short
}

// last sums up sum for the record.
func last(sum Summary, start, end time.Time, err error) Last {
	l := Last{Time: end.UTC(), Seconds: end.Sub(start).Seconds(), Nights: sum.Nights, Actions: map[Kind]int{},
		Failed: sum.Failed, Deferred: len(sum.Deferred), FailedRaw: len(sum.FailedRaw), Problems: len(sum.Problems)}
	for _, r := range sum.Actions {
		l.Actions[r.Kind]++
	}
	if err != nil {
		l.Error = err.Error()
	}
	return l
}

// WriteLast replaces stateDir's record of the last sweep, atomically.
func WriteLast(stateDir string, l Last) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(stateDir, LastName), append(b, '\n'), 0o644)
}

// ReadLast reads stateDir's record of the last sweep; an error wrapping
// fs.ErrNotExist if no sweep has recorded one.
func ReadLast(stateDir string) (Last, error) {
	var l Last
	b, err := os.ReadFile(filepath.Join(stateDir, LastName))
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("%s: %w", filepath.Join(stateDir, LastName), err)
	}
	return l, nil
}
