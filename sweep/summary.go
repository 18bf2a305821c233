package sweep

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// sweepVerbs say what an action did, for the summary lines.
var verbs = map[Kind]string{
	CleanTemps: "cleaned",
	Store:      "delivered",
	Dispatch:   "dispatched",
	Redispatch: "redispatched",
	Lost:       "lost",
}

// Write prints the summary for people, one line per action and a last
// line of counts, or as JSON. A failed action is not among the lines: the
// sweep command says it on stderr as it happens.
func (sum Summary) Write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(sum)
	}
	for _, r := range sum.Actions {
		what := r.File
		if r.Kind == CleanTemps {
			what = r.Dir
		}
		switch r.Status {
		case Planned:
			fmt.Fprintf(w, "would %-10s %s: %s\n", r.Kind, what, r.Reason)
		case OK:
			fmt.Fprintf(w, "%-16s %s: %s\n", verbs[r.Kind], what, r.Reason)
		case Failed:
			// Said on stderr as it happened.
		default:
			fmt.Fprintf(w, "%-16s %s: %s\n", strings.ToUpper(string(r.Status))+" "+string(r.Kind), what, r.Error)
		}
	}
	for _, f := range sum.Deferred {
		fmt.Fprintf(w, "%-16s %s: younger than sweep.minAge, left to the datagrams\n", "deferred", f)
	}
	for _, f := range sum.FailedRaw {
		fmt.Fprintf(w, "%-16s %s\n", "FAILED", f)
	}
	for _, p := range sum.Problems {
		fmt.Fprintf(w, "%-16s %s\n", "PROBLEM", p)
	}
	var counts []string
	for _, k := range []Kind{Store, Dispatch, Redispatch, CleanTemps, Lost} {
		if n := sum.Count(k); n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, k))
		}
	}
	head := "sweep of " + strings.Join(sum.Nights, " ")
	switch {
	case len(sum.Actions) == 0:
		fmt.Fprintf(w, "%s: nothing to do", head)
	case sum.DryRun:
		fmt.Fprintf(w, "%s (dry run, nothing changed): would do %d actions (%s)", head, len(sum.Actions), strings.Join(counts, ", "))
	default:
		fmt.Fprintf(w, "%s: %d actions (%s), %d failed", head, len(sum.Actions), strings.Join(counts, ", "), sum.Failed)
	}
	fmt.Fprintf(w, "; %d deferred, %d known lost, %d taken by the archive, %d failed raw files, %d problems\n",
		len(sum.Deferred), len(sum.KnownLost), len(sum.Taken), len(sum.FailedRaw), len(sum.Problems))
	return nil
}
