package ledger

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Steps and statuses written by dataman. Parse accepts any others, for
// forward compatibility.
const (
	StepCondition = "condition"
	StepStore     = "store"
	StepDispatch  = "dispatch"
	StepVerify    = "verify"
	StepSweep     = "sweep"
	// StepIdentify records a raw file's new size and modification time
	// once its content was found to be the one already conditioned.
	StepIdentify = "identify"

	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusPending = "pending"
	StatusAlready = "already"
	StatusLost    = "lost"
)

// Event is one line of a ledger.
type Event struct {
	File      string // raw file base name
	Step      string
	Status    string
	RawSize   int64
	RawSHA256 string
	RawMTime  int64 // the raw file's modification time, Unix nanoseconds
	OutSHA256 string
	OutSize   int64
	Dest      string
	MTime     int64 // Dest's modification time, Unix nanoseconds
	Version   string
	Config    string
	Time      time.Time
	Reason    string
	Attempt   int
	Extra     map[string]string // fields this version does not know
}

// Done reports whether the step has nothing left to do.
func (e Event) Done() bool { return e.Status == StatusOK || e.Status == StatusAlready }

// known lists the fields of Event in the order Format writes them.
var known = []string{"step", "status", "raw_size", "raw_sha256", "raw_mtime", "out_size", "out_sha256",
	"dest", "mtime", "version", "config", "attempt", "reason", "time"}

// Format renders ev as one ledger line, without the newline. Zero-valued
// fields are left out; Extra keys that are not valid keys or that name a known
// field are left out too (Append refuses such events).
func Format(ev Event) string {
	var b strings.Builder
	b.WriteString(quote(ev.File))
	str := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + quote(v))
		}
	}
	num := func(k string, v int64) {
		if v != 0 {
			b.WriteString(" " + k + "=" + strconv.FormatInt(v, 10))
		}
	}
	str("step", ev.Step)
	str("status", ev.Status)
	num("raw_size", ev.RawSize)
	str("raw_sha256", ev.RawSHA256)
	num("raw_mtime", ev.RawMTime)
	num("out_size", ev.OutSize)
	str("out_sha256", ev.OutSHA256)
	str("dest", ev.Dest)
	num("mtime", ev.MTime)
	str("version", ev.Version)
	str("config", ev.Config)
	num("attempt", int64(ev.Attempt))
	str("reason", ev.Reason)
	if !ev.Time.IsZero() {
		str("time", ev.Time.UTC().Format(time.RFC3339Nano))
	}
	for _, k := range slices.Sorted(maps.Keys(ev.Extra)) {
		if validKey(k) && !slices.Contains(known, k) {
			b.WriteString(" " + k + "=" + quote(ev.Extra[k]))
		}
	}
	return b.String()
}

// quote leaves alone the values a reader splitting on spaces gets right, and
// Go-quotes the rest, so any string survives the round trip.
func quote(s string) string {
	if s == "" || !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if r == ' ' || r == '"' || r == '=' || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}

// Parse reads one ledger line (without its newline).
func Parse(line string) (Event, error) {
	rest := strings.Trim(line, " \t\r")
	file, rest, err := token(rest)
	if err != nil {
		return Event{}, fmt.Errorf("file name: %w", err)
	}
	if file == "" {
		return Event{}, errors.New("empty file name")
	}
	ev := Event{File: file}
	seen := map[string]bool{}
	for rest != "" {
		rest = strings.TrimLeft(rest, " \t")
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return Event{}, fmt.Errorf("%q is not key=value", firstWord(rest))
		}
		key := rest[:eq]
		if !validKey(key) {
			return Event{}, fmt.Errorf("bad key %q", firstWord(key))
		}
		if seen[key] {
			return Event{}, fmt.Errorf("%s given twice", key)
		}
		seen[key] = true
		var val string
		val, rest, err = token(rest[eq+1:])
		if err != nil {
			return Event{}, fmt.Errorf("%s: %w", key, err)
		}
		if err := ev.set(key, val); err != nil {
			return Event{}, fmt.Errorf("%s: %w", key, err)
		}
	}
	if ev.Step == "" || ev.Status == "" {
		return Event{}, errors.New("step and status are required")
	}
	return ev, nil
}

// token splits off one value: a Go-quoted string, or everything up to the next
// space or tab.
func token(s string) (tok, rest string, err error) {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", "", fmt.Errorf("bad quoted value %s", firstWord(s))
		}
		rest = s[len(q):]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			return "", "", fmt.Errorf("no space after quoted value %s", q)
		}
		tok, err = strconv.Unquote(q)
		return tok, rest, err
	}
	end := strings.IndexAny(s, " \t")
	if end < 0 {
		return s, "", nil
	}
	return s[:end], s[end:], nil
}

func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

func (ev *Event) set(key, val string) error {
	var err error
	switch key {
	case "step":
		ev.Step = val
	case "status":
		ev.Status = val
	case "raw_size":
		ev.RawSize, err = strconv.ParseInt(val, 10, 64)
	case "raw_sha256":
		ev.RawSHA256 = val
	case "raw_mtime":
		ev.RawMTime, err = strconv.ParseInt(val, 10, 64)
	case "out_size":
		ev.OutSize, err = strconv.ParseInt(val, 10, 64)
	case "out_sha256":
		ev.OutSHA256 = val
	case "dest":
		ev.Dest = val
	case "mtime":
		ev.MTime, err = strconv.ParseInt(val, 10, 64)
	case "version":
		ev.Version = val
	case "config":
		ev.Config = val
	case "attempt":
		ev.Attempt, err = strconv.Atoi(val)
	case "reason":
		ev.Reason = val
	case "time":
		ev.Time, err = parseTime(val)
	default:
		if ev.Extra == nil {
			ev.Extra = map[string]string{}
		}
		ev.Extra[key] = val
	}
	if ne, ok := err.(*strconv.NumError); ok {
		err = ne.Err
	}
	return err
}

// parseTime accepts RFC 3339 in any zone and keeps UTC, which is what Format
// writes; a time whose UTC year Format could not write back is refused.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	return t, nil
}
