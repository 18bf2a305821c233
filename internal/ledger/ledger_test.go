package ledger

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var sample = Event{
	File:      "mods1b.20260119.0001.fits",
	Step:      StepDispatch,
	Status:    StatusPending,
	RawSize:   51609600,
	RawSHA256: "aa11",
	OutSHA256: "bb22",
	OutSize:   154653120,
	Dest:      "/lbt/data/new/mods1b.20260119.0001.fits",
	MTime:     1768853600123456789,
	Version:   "1.0.0",
	Config:    "c0ffee",
	Time:      time.Date(2026, 1, 19, 20, 13, 20, 140812000, time.UTC),
	Reason:    `open /lbt/data/new: no such file or directory`,
	Attempt:   3,
	Extra:     map[string]string{"uniqname": "mods1.20260119.201320.fits", "note": `say "hi" a=b`},
}

func TestFormat(t *testing.T) {
	got := Format(sample)
	want := `mods1b.20260119.0001.fits step=dispatch status=pending raw_size=51609600 raw_sha256=aa11 ` +
		`out_size=154653120 out_sha256=bb22 dest=/lbt/data/new/mods1b.20260119.0001.fits mtime=1768853600123456789 ` +
		`version=1.0.0 config=c0ffee attempt=3 reason="open /lbt/data/new: no such file or directory" ` +
		`time=2026-01-19T20:13:20.140812Z note="say \"hi\" a=b" uniqname=mods1.20260119.201320.fits`
	if got != want {
		t.Fatalf("Format:\n got %s\nwant %s", got, want)
	}
	back, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, sample) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, sample)
	}
}

func TestFormatQuoting(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", `""`},
		{"a b", `"a b"`},
		{"a\tb", `"a\tb"`},
		{`a"b`, `"a\"b"`},
		{"a=b", `"a=b"`},
		{"a\nb", `"a\nb"`},
		{"caf\u00e9", "caf\u00e9"},
		{"non\u00a0breaking", `"non\u00a0breaking"`},
		{"\xff", `"\xff"`},
		{`back\slash`, `back\slash`},
	}
	for _, tt := range tests {
		ev := Event{File: "f", Step: "s", Status: "ok", Extra: map[string]string{"x": tt.in}}
		line := Format(ev)
		if want := "f step=s status=ok x=" + tt.want; line != want {
			t.Errorf("value %q: got %s, want %s", tt.in, line, want)
		}
		back, err := Parse(line)
		if err != nil || back.Extra["x"] != tt.in {
			t.Errorf("value %q: parsed back %q, %v", tt.in, back.Extra["x"], err)
		}
	}
}

func TestFormatSkipsBadExtra(t *testing.T) {
	ev := Event{File: "f", Step: "s", Status: "ok", Extra: map[string]string{"step": "evil", "bad key": "v", "": "v"}}
	if got := Format(ev); got != "f step=s status=ok" {
		t.Fatalf("got %s", got)
	}
}

func TestParse(t *testing.T) {
	ev, err := Parse("  \"odd name.fits\"\tstatus=ok  step=store time=2026-01-19T13:13:20-07:00 future_field=\"x y\" raw_size=+7\r")
	if err != nil {
		t.Fatal(err)
	}
	want := Event{File: "odd name.fits", Step: "store", Status: "ok", RawSize: 7,
		Time: time.Date(2026, 1, 19, 20, 13, 20, 0, time.UTC), Extra: map[string]string{"future_field": "x y"}}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("got %+v\nwant %+v", ev, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"", "empty file name"},
		{`"" step=a status=b`, "empty file name"},
		{"f status=ok", "step and status are required"},
		{"f step=store", "step and status are required"},
		{"f step=store status=ok step=dispatch", "step given twice"},
		{"f step=store status=ok junk", `"junk" is not key=value`},
		{"f step=store status=ok =v", `bad key ""`},
		{"f step=store status=ok k\"=v", "bad key"},
		{"f step=store status=ok raw_size=12x", "raw_size: invalid syntax"},
		{"f step=store status=ok mtime=99999999999999999999", "mtime: value out of range"},
		{"f step=store status=ok attempt=one", "attempt"},
		{"f step=store status=ok time=yesterday", "not an RFC 3339 time"},
		{"f step=store status=ok time=0000-01-01T00:00:00+01:00", "out of range"},
		{`f step=store status=ok reason="unterminated`, "bad quoted value"},
		{`f step=store status=ok reason="a"b`, "no space after quoted value"},
		{`"f step=store status=ok`, "file name: bad quoted value"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.line)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tt.line, err, tt.want)
		}
	}
}

func TestAppendStateReopen(t *testing.T) {
	state := t.TempDir()
	l, err := Open(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != filepath.Join(state, "ledger", "MODS1B.ledger") {
		t.Fatalf("path %s", l.Path())
	}
	a, b := "mods1b.20260119.0001.fits", "mods1b.20260119.0002.fits"
	for _, ev := range []Event{
		{File: a, Step: StepStore, Status: StatusOK, Dest: "/p/1"},
		{File: a, Step: StepDispatch, Status: StatusPending, Reason: "no space left on device"},
		{File: b, Step: StepStore, Status: StatusFailed},
		{File: a, Step: StepDispatch, Status: StatusOK, Dest: "/r/1"},
	} {
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	check := func(l *Ledger) {
		t.Helper()
		st := l.State(a)
		if len(st) != 2 || st[StepStore].Dest != "/p/1" || st[StepDispatch].Status != StatusOK || st[StepDispatch].Dest != "/r/1" {
			t.Fatalf("state of %s: %+v", a, st)
		}
		if st[StepDispatch].Time.IsZero() {
			t.Fatal("Append left Time zero")
		}
		if got := l.Files(); !reflect.DeepEqual(got, []string{a, b}) {
			t.Fatalf("files %v", got)
		}
		if l.State("unknown") != nil {
			t.Fatal("state of an unknown file")
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Event{File: a, Step: "s", Status: "ok"}); err == nil {
		t.Fatal("append after close succeeded")
	}
	l2, err := Open(state, "MODS1B")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	check(l2)
	data, _ := os.ReadFile(l2.Path())
	if n := strings.Count(string(data), "\n"); n != 4 || !strings.HasSuffix(string(data), "\n") {
		t.Fatalf("want 4 complete lines, got:\n%s", data)
	}
}

func TestAppendRefusesBadEvents(t *testing.T) {
	l, err := Open(t.TempDir(), "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, ev := range []Event{
		{Step: "s", Status: "ok"},
		{File: "f", Status: "ok"},
		{File: "f", Step: "s", Status: "ok", Extra: map[string]string{"dest": "x"}},
		{File: "f", Step: "s", Status: "ok", Extra: map[string]string{"a b": "x"}},
	} {
		if err := l.Append(ev); err == nil {
			t.Errorf("Append(%+v) succeeded", ev)
		}
	}
	if len(l.Files()) != 0 {
		t.Fatal("a refused event was indexed")
	}
}

func TestOpenBadChannel(t *testing.T) {
	for _, ch := range []string{"", "../x", "mods1b.x", "a b"} {
		if _, err := Open(t.TempDir(), ch); err == nil {
			t.Errorf("Open(%q) succeeded", ch)
		}
	}
}

func TestConcurrentAppend(t *testing.T) {
	l, err := Open(t.TempDir(), "mods1r")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := range 20 {
				ev := Event{File: fmt.Sprintf("f%02d", g), Step: StepStore, Status: StatusOK, Attempt: i + 1,
					Reason: strings.Repeat("x", 500)}
				if err := l.Append(ev); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	events, problems, err := Read(l.Path())
	if err != nil || len(problems) != 0 || len(events) != 400 {
		t.Fatalf("read %d events, problems %v, err %v", len(events), problems, err)
	}
	for _, f := range l.Files() {
		if got := l.State(f)[StepStore].Attempt; got != 20 {
			t.Errorf("%s: latest attempt %d, want 20", f, got)
		}
	}
}

func TestTornLastLine(t *testing.T) {
	state := t.TempDir()
	path := Path(state, "mods1b")
	os.MkdirAll(filepath.Dir(path), 0o755)
	good := Format(Event{File: "a", Step: StepStore, Status: StatusOK}) + "\n"
	// A torn line that happens to parse: only its place as last line, with
	// no newline, says it is torn.
	torn := "b step=store status=o"
	if err := os.WriteFile(path, []byte(good+torn), 0o644); err != nil {
		t.Fatal(err)
	}
	events, problems, err := Read(path)
	if err != nil || len(problems) != 0 || len(events) != 1 || events[0].File != "a" {
		t.Fatalf("Read: %v, %v, %v", events, problems, err)
	}

	l, err := Open(state, "mods1b")
	if err != nil {
		t.Fatalf("Open with a torn line: %v", err)
	}
	defer l.Close()
	if got := l.Files(); !reflect.DeepEqual(got, []string{"a"}) {
		t.Fatalf("files %v", got)
	}
	if p := l.Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), `cut short by a crash: "b step=store status=o"`) {
		t.Fatalf("problems %v", p)
	}
	if err := l.Append(Event{File: "c", Step: StepStore, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	events, problems, err = Read(path)
	if err != nil || len(problems) != 0 {
		t.Fatalf("Read: %v %v", problems, err)
	}
	if len(events) != 2 || events[0].File != "a" || events[1].File != "c" {
		t.Fatalf("the torn fragment survived or swallowed the next event: %+v", events)
	}
}

func TestTornOnlyLine(t *testing.T) {
	state := t.TempDir()
	path := Path(state, "mods1b")
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, []byte(strings.Repeat("x", 10000)), 0o644)
	l, err := Open(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Fatalf("torn line of %d bytes kept", fi.Size())
	}
}

func TestMalformedLineReported(t *testing.T) {
	state := t.TempDir()
	path := Path(state, "mods2r")
	os.MkdirAll(filepath.Dir(path), 0o755)
	content := "a step=store status=ok\n\nb step=store status=ok raw_size=lots\nc step=store status=ok\n"
	os.WriteFile(path, []byte(content), 0o644)
	l, err := Open(state, "mods2r")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Files(); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Fatalf("files %v", got)
	}
	p := l.Problems()
	if len(p) != 1 || !strings.Contains(p[0].Error(), "MODS2R.ledger:3: raw_size") {
		t.Fatalf("problems %v", p)
	}
}

func TestCompact(t *testing.T) {
	state := t.TempDir()
	l, err := Open(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seq := []Event{
		{File: "a", Step: StepStore, Status: StatusFailed, Attempt: 1},
		{File: "b", Step: StepStore, Status: StatusOK},
		{File: "a", Step: StepStore, Status: StatusOK, Attempt: 2},
		{File: "a", Step: StepDispatch, Status: StatusPending, Attempt: 1},
		{File: "a", Step: StepDispatch, Status: StatusOK, Attempt: 2},
	}
	for _, ev := range seq {
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	// A line from another process, written after Open, must survive.
	other, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	other.WriteString("d step=store status=ok\nnot a line\n")
	other.Close()

	if err := l.Compact(); err != nil {
		t.Fatal(err)
	}
	events, problems, err := Read(l.Path())
	if err != nil || len(problems) != 0 {
		t.Fatalf("after compact: %v %v", problems, err)
	}
	var got []string
	for _, ev := range events {
		got = append(got, fmt.Sprintf("%s/%s/%s", ev.File, ev.Step, ev.Status))
	}
	want := []string{"b/store/ok", "a/store/ok", "a/dispatch/ok", "d/store/ok"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("compacted to %v, want %v", got, want)
	}
	if st := l.State("d"); st[StepStore].Status != StatusOK {
		t.Fatal("compact did not re-index lines of other processes")
	}
	if err := l.Append(Event{File: "e", Step: StepStore, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	events, _, _ = Read(l.Path())
	if len(events) != 5 || events[4].File != "e" {
		t.Fatalf("append after compact went elsewhere: %+v", events)
	}
	entries, _ := os.ReadDir(filepath.Dir(l.Path()))
	if len(entries) != 1 {
		t.Fatalf("compact left files behind: %v", entries)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Format(sample))
	f.Add("a step=s status=ok")
	f.Add(`"a b" step="x y" status=ok time=2026-01-19T13:13:20.5-07:00 k=`)
	f.Add("a step=s status=ok raw_size=-0 attempt=+1 time=0001-01-01T00:00:00Z")
	f.Add("a\tstep=s\tstatus=ok\r")
	f.Add(`a step=s status=ok x="\xff\u00a0"`)
	f.Fuzz(func(t *testing.T, line string) {
		ev, err := Parse(line)
		if err != nil {
			return
		}
		out := Format(ev)
		if strings.ContainsAny(out, "\n") {
			t.Fatalf("Format wrote a newline: %q", out)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Format(%q)) = %v (formatted %q)", line, err, out)
		}
		if !reflect.DeepEqual(back, ev) {
			t.Fatalf("round trip of %q:\n got %+v\nwant %+v", line, back, ev)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	l, err := Open(b.TempDir(), "mods1b")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	for b.Loop() {
		if err := l.Append(sample); err != nil {
			b.Fatal(err)
		}
	}
}
