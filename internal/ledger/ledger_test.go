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

const (
	fa = "mods1b.20260119.0001.fits"
	fb = "mods1b.20260119.0002.fits"
	fc = "mods1b.20260120.0001.fits"
)

func TestAppendStateReopen(t *testing.T) {
	state := t.TempDir()
	l, err := Open(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != filepath.Join(state, "ledger", "MODS1B") {
		t.Fatalf("path %s", l.Path())
	}
	for _, ev := range []Event{
		{File: fa, Step: StepStore, Status: StatusOK, Dest: "/p/1"},
		{File: fa, Step: StepDispatch, Status: StatusPending, Reason: "no space left on device"},
		{File: fb, Step: StepStore, Status: StatusFailed},
		{File: fa, Step: StepDispatch, Status: StatusOK, Dest: "/r/1"},
		{File: fc, Step: StepStore, Status: StatusOK},
	} {
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	check := func(l *Ledger) {
		t.Helper()
		st := l.State(fa)
		if len(st) != 2 || st[StepStore].Dest != "/p/1" || st[StepDispatch].Status != StatusOK || st[StepDispatch].Dest != "/r/1" {
			t.Fatalf("state of %s: %+v", fa, st)
		}
		if st[StepDispatch].Time.IsZero() {
			t.Fatal("Append left Time zero")
		}
		if got := l.Files("20260119"); !reflect.DeepEqual(got, []string{fa, fb}) {
			t.Fatalf("files %v", got)
		}
		if nights, err := l.Nights(); err != nil || !reflect.DeepEqual(nights, []string{"20260119", "20260120"}) {
			t.Fatalf("nights %v, %v", nights, err)
		}
		if l.State("unknown") != nil || l.State("mods1b.20260121.0001.fits") != nil {
			t.Fatal("state of an unknown file")
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Event{File: fa, Step: "s", Status: "ok"}); err == nil {
		t.Fatal("append after close succeeded")
	}
	l2, err := Open(state, "MODS1B")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	check(l2)
	data, _ := os.ReadFile(NightPath(state, "mods1b", "20260119"))
	if n := strings.Count(string(data), "\n"); n != 4 || !strings.HasSuffix(string(data), "\n") {
		t.Fatalf("want 4 complete lines, got:\n%s", data)
	}
	ro, err := OpenReadOnly(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	check(ro)
	if err := ro.Append(Event{File: fa, Step: "s", Status: "ok"}); err == nil {
		t.Fatal("append to a read-only ledger succeeded")
	}
}

// A read-only ledger creates nothing, even for a channel never seen.
func TestReadOnlyCreatesNothing(t *testing.T) {
	state := t.TempDir()
	l, err := OpenReadOnly(state, "mods2r")
	if err != nil {
		t.Fatal(err)
	}
	if l.State(fa) != nil || len(l.Files("20260119")) != 0 {
		t.Fatal("an empty ledger knows a file")
	}
	if entries, _ := os.ReadDir(state); len(entries) != 0 {
		t.Fatalf("a read-only ledger created %v", entries)
	}
}

// Another process's lines are seen at the next look, without reopening.
func TestSeesOtherWriters(t *testing.T) {
	state := t.TempDir()
	a, _ := Open(state, "mods1b")
	defer a.Close()
	b, _ := Open(state, "mods1b")
	defer b.Close()
	if a.State(fa) != nil {
		t.Fatal("unknown file has a state")
	}
	if err := b.Append(Event{File: fa, Step: StepStore, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	if a.State(fa)[StepStore].Status != StatusOK {
		t.Fatal("a did not see b's line")
	}
}

// A new exposure under a delivered name is a generation of its own; both
// are kept, and an event without a checksum belongs to the current one.
func TestGenerations(t *testing.T) {
	l, err := Open(t.TempDir(), "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, ev := range []Event{
		{File: fa, Step: StepCondition, Status: StatusOK, RawSHA256: "r1", RawSize: 10, RawMTime: 100},
		{File: fa, Step: StepStore, Status: StatusOK, Dest: "/p/a"},
		{File: fa, Step: StepDispatch, Status: StatusOK, Dest: "/r/a"},
		{File: fa, Step: StepCondition, Status: StatusOK, RawSHA256: "r2", RawSize: 10, RawMTime: 200},
		{File: fa, Step: StepStore, Status: StatusOK, Dest: "/p/uniq"},
		{File: fa, Step: StepIdentify, Status: StatusOK, RawSHA256: "r2", RawMTime: 300},
	} {
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	gens, cur := l.Generations(fa)
	if len(gens) != 2 || cur != 1 {
		t.Fatalf("%d generations, current %d", len(gens), cur)
	}
	if g := gens[0]; g.RawSHA256 != "r1" || g.RawMTime != 100 || g.Steps[StepStore].Dest != "/p/a" || g.Steps[StepDispatch].Dest != "/r/a" {
		t.Errorf("first generation %+v", g)
	}
	if g := gens[1]; g.RawSHA256 != "r2" || g.RawMTime != 300 || g.Steps[StepStore].Dest != "/p/uniq" || len(g.Steps) != 3 {
		t.Errorf("second generation %+v", g)
	}
	if st := l.State(fa); st[StepStore].Dest != "/p/uniq" {
		t.Errorf("state is not the current generation's: %+v", st)
	}
	// Compaction keeps both, each event still in its generation.
	if err := l.Compact("20260119"); err != nil {
		t.Fatal(err)
	}
	again, cur := l.Generations(fa)
	// Each kept event now names its generation's checksum.
	for _, g := range gens {
		for k, ev := range g.Steps {
			ev.RawSHA256 = g.RawSHA256
			g.Steps[k] = ev
		}
	}
	if cur != 1 || !reflect.DeepEqual(gens, again) {
		t.Fatalf("after compaction:\n%+v\nwant\n%+v", again, gens)
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
	if len(l.Files(OtherNight)) != 0 {
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
	state := t.TempDir()
	l, err := Open(state, "mods1r")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	for g := range 20 {
		wg.Go(func() {
			for i := range 20 {
				ev := Event{File: fmt.Sprintf("mods1r.20260119.%04d.fits", g), Step: StepStore, Status: StatusOK, Attempt: i + 1,
					Reason: strings.Repeat("x", 500)}
				if err := l.Append(ev); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	events, problems, err := Read(NightPath(state, "mods1r", "20260119"))
	// 400 lines for 20 kept events: compaction ran on the way.
	if err != nil || len(problems) != 0 || len(events) > 20+2*20+compactSlack {
		t.Fatalf("read %d events, problems %v, err %v", len(events), problems, err)
	}
	files := l.Files("20260119")
	if len(files) != 20 {
		t.Fatalf("%d files", len(files))
	}
	for _, f := range files {
		if got := l.State(f)[StepStore].Attempt; got != 20 {
			t.Errorf("%s: latest attempt %d, want 20", f, got)
		}
	}
}

// Two processes appending to one night while one of them compacts it lose
// no line: the other notices the new file before it writes.
func TestCompactWhileAnotherAppends(t *testing.T) {
	state := t.TempDir()
	a, _ := Open(state, "mods1b")
	defer a.Close()
	b, _ := Open(state, "mods1b")
	defer b.Close()
	var wg sync.WaitGroup
	for w, l := range []*Ledger{a, b} {
		wg.Go(func() {
			for i := range 300 {
				ev := Event{File: fmt.Sprintf("mods1b.20260119.%04d.fits", w*1000+i), Step: StepStore, Status: StatusOK}
				if err := l.Append(ev); err != nil {
					t.Error(err)
				}
				if i%50 == 0 {
					if err := l.Compact("20260119"); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	events, _, err := Read(NightPath(state, "mods1b", "20260119"))
	if err != nil || len(events) != 600 {
		t.Fatalf("%d events of 600, %v", len(events), err)
	}
	ro, _ := OpenReadOnly(state, "mods1b")
	if n := len(ro.Files("20260119")); n != 600 {
		t.Fatalf("%d files of 600", n)
	}
}

func TestTornLastLine(t *testing.T) {
	state := t.TempDir()
	path := NightPath(state, "mods1b", "20260119")
	os.MkdirAll(filepath.Dir(path), 0o755)
	good := Format(Event{File: fa, Step: StepStore, Status: StatusOK}) + "\n"
	// A torn line that happens to parse: only its place as last line, with
	// no newline, says it is torn.
	torn := fb + " step=store status=o"
	if err := os.WriteFile(path, []byte(good+torn), 0o644); err != nil {
		t.Fatal(err)
	}
	events, problems, err := Read(path)
	if err != nil || len(problems) != 0 || len(events) != 1 || events[0].File != fa {
		t.Fatalf("Read: %v, %v, %v", events, problems, err)
	}

	l, err := Open(state, "mods1b")
	if err != nil {
		t.Fatalf("Open with a torn line: %v", err)
	}
	defer l.Close()
	if got := l.Files("20260119"); !reflect.DeepEqual(got, []string{fa}) {
		t.Fatalf("files %v", got)
	}
	if err := l.Append(Event{File: "mods1b.20260119.0003.fits", Step: StepStore, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	if p := l.Problems(); len(p) != 1 || !strings.Contains(p[0].Error(), `cut short by a crash: "`+torn+`"`) {
		t.Fatalf("problems %v", p)
	}
	events, problems, err = Read(path)
	if err != nil || len(problems) != 0 {
		t.Fatalf("Read: %v %v", problems, err)
	}
	if len(events) != 2 || events[0].File != fa || events[1].File != "mods1b.20260119.0003.fits" {
		t.Fatalf("the torn fragment survived or swallowed the next event: %+v", events)
	}
}

// A process that was already running when another one died mid-line does
// not glue its next event onto the torn line.
func TestTornLineWhileRunning(t *testing.T) {
	state := t.TempDir()
	l, err := Open(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Append(Event{File: fa, Step: StepStore, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	path := NightPath(state, "mods1b", "20260119")
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(fb + " step=dispatch status=ok dest=/r/x out_sha2") // died here
	f.Close()
	if err := l.Append(Event{File: fb, Step: StepStore, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	events, problems, err := Read(path)
	if err != nil || len(problems) != 0 || len(events) != 2 || events[1].File != fb || events[1].Step != StepStore {
		t.Fatalf("events %+v, problems %v, %v", events, problems, err)
	}
	if st := l.State(fb); st[StepDispatch].Status != "" || st[StepStore].Status != StatusOK {
		t.Fatalf("state %+v", st)
	}
}

func TestMalformedLineReported(t *testing.T) {
	state := t.TempDir()
	path := NightPath(state, "mods2r", "20260119")
	os.MkdirAll(filepath.Dir(path), 0o755)
	a, b, c := "mods2r.20260119.0001.fits", "mods2r.20260119.0002.fits", "mods2r.20260119.0003.fits"
	content := a + " step=store status=ok\n\n" + b + " step=store status=ok raw_size=lots\n" + c + " step=store status=ok\n"
	os.WriteFile(path, []byte(content), 0o644)
	l, err := Open(state, "mods2r")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := l.Files("20260119"); !reflect.DeepEqual(got, []string{a, c}) {
		t.Fatalf("files %v", got)
	}
	p := l.Problems()
	if len(p) != 1 || !strings.Contains(p[0].Error(), "20260119.ledger:3: raw_size") {
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
	a, b, d, e := fa, fb, "mods1b.20260119.0004.fits", "mods1b.20260119.0005.fits"
	seq := []Event{
		{File: a, Step: StepStore, Status: StatusFailed, Attempt: 1},
		{File: b, Step: StepStore, Status: StatusOK},
		{File: a, Step: StepStore, Status: StatusOK, Attempt: 2},
		{File: a, Step: StepDispatch, Status: StatusPending, Attempt: 1},
		{File: a, Step: StepDispatch, Status: StatusOK, Attempt: 2},
	}
	for _, ev := range seq {
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	path := NightPath(state, "mods1b", "20260119")
	// A line from another process, written after Open, must survive.
	other, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	other.WriteString(d + " step=store status=ok\nnot a line\n")
	other.Close()

	if err := l.Compact("20260119"); err != nil {
		t.Fatal(err)
	}
	events, problems, err := Read(path)
	if err != nil || len(problems) != 0 {
		t.Fatalf("after compact: %v %v", problems, err)
	}
	var got []string
	for _, ev := range events {
		got = append(got, fmt.Sprintf("%s/%s/%s", ev.File[16:20], ev.Step, ev.Status))
	}
	want := []string{"0002/store/ok", "0001/store/ok", "0001/dispatch/ok", "0004/store/ok"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("compacted to %v, want %v", got, want)
	}
	if st := l.State(d); st[StepStore].Status != StatusOK {
		t.Fatal("compact did not re-index lines of other processes")
	}
	if err := l.Append(Event{File: e, Step: StepStore, Status: StatusOK}); err != nil {
		t.Fatal(err)
	}
	events, _, _ = Read(path)
	if len(events) != 5 || events[4].File != e {
		t.Fatalf("append after compact went elsewhere: %+v", events)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 { // the night and .lock
		t.Fatalf("compact left files behind: %v", entries)
	}
}

// A single-file ledger of the earlier format is split into nights, nothing
// lost, and kept as <CHAN>.ledger.migrated; read-only views read it before.
func TestMigrate(t *testing.T) {
	state := t.TempDir()
	legacy := Path(state, "mods1b")
	os.MkdirAll(filepath.Dir(legacy), 0o755)
	var b strings.Builder
	var want []string
	for night := range 3 {
		for seq := range 100 {
			f := fmt.Sprintf("mods1b.2026011%d.%04d.fits", night+1, seq+1)
			b.WriteString(Format(Event{File: f, Step: StepCondition, Status: StatusOK, RawSHA256: "r" + f, Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}) + "\n")
			b.WriteString(Format(Event{File: f, Step: StepStore, Status: StatusFailed}) + "\n")
			b.WriteString(Format(Event{File: f, Step: StepStore, Status: StatusOK, Dest: "/p/" + f}) + "\n")
			want = append(want, f)
		}
	}
	b.WriteString("mods1b.20260111.0001.fits step=store sta") // torn
	os.WriteFile(legacy, []byte(b.String()), 0o644)

	ro, err := OpenReadOnly(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	if ro.State(want[150])[StepStore].Dest != "/p/"+want[150] {
		t.Fatal("read-only view of an unmigrated ledger")
	}
	if _, err := os.Stat(Dir(state, "mods1b")); err == nil {
		t.Fatal("a read-only view migrated")
	}

	l, err := Open(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := os.Stat(legacy); err == nil {
		t.Fatal("the old ledger is still in place")
	}
	if _, err := os.Stat(legacy + ".migrated"); err != nil {
		t.Fatal(err)
	}
	nights, _ := l.Nights()
	if !reflect.DeepEqual(nights, []string{"20260111", "20260112", "20260113"}) {
		t.Fatalf("nights %v", nights)
	}
	for _, f := range want {
		st := l.State(f)
		if st[StepStore].Dest != "/p/"+f || st[StepCondition].RawSHA256 != "r"+f {
			t.Fatalf("%s: %+v", f, st)
		}
	}
	// Compacted on the way: the failed store lines are gone.
	events, _, _ := Read(NightPath(state, "mods1b", "20260112"))
	if len(events) != 200 {
		t.Fatalf("%d events in a migrated night, want 200", len(events))
	}
	// A migrated night keeps the time of its last event, so that it is not
	// taken for a night at work.
	if recent, _ := l.NightsSince(time.Now().Add(-time.Hour)); len(recent) != 0 {
		t.Fatalf("migrated nights look recent: %v", recent)
	}
	// A second Open finds nothing to migrate.
	l2, err := Open(state, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	all, _, err := ReadChannel(state, "mods1b")
	if err != nil || len(all) != 600 {
		t.Fatalf("ReadChannel: %d events, %v", len(all), err)
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

// TestCopiesOutliveLaterEvents: a copy a generation made stays in its
// Copies after a later event of the same step (a pending dispatch) stops
// naming it, and after compaction.
func TestCopiesOutliveLaterEvents(t *testing.T) {
	l, err := Open(t.TempDir(), "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t0 := time.Date(2026, 1, 19, 3, 0, 0, 0, time.UTC)
	for i, ev := range []Event{
		{File: fa, Step: StepCondition, Status: StatusOK, RawSHA256: "r1", RawSize: 10, RawMTime: 100},
		{File: fa, Step: StepStore, Status: StatusOK, Dest: "/p/a"},
		{File: fa, Step: StepDispatch, Status: StatusOK, Dest: "/r/a"},
		{File: fa, Step: StepDispatch, Status: StatusPending, Reason: "/r: timed out"},
		{File: fa, Step: StepDispatch, Status: StatusFailed, Dest: "/r/b", Reason: "no space"},
		// Another process's line, appended after a later one: the copy
		// keeps its latest time, not its last line's.
		{File: fa, Step: StepStore, Status: StatusAlready, Dest: "/p/a"},
	} {
		ev.Time = t0.Add(time.Duration(i) * time.Minute)
		if i == 5 {
			ev.Time = t0.Add(30 * time.Second)
		}
		if err := l.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		gens, cur := l.Generations(fa)
		g := gens[cur]
		if g.Steps[StepDispatch].Status != StatusFailed {
			t.Fatalf("%s: latest dispatch %+v", when, g.Steps[StepDispatch])
		}
		want := map[string]time.Time{"/p/a": t0.Add(time.Minute), "/r/a": t0.Add(2 * time.Minute)}
		if !reflect.DeepEqual(g.Copies, want) {
			t.Fatalf("%s: copies %v, want %v", when, g.Copies, want)
		}
	}
	check("appended")
	if err := l.Compact("20260119"); err != nil {
		t.Fatal(err)
	}
	check("compacted")
}
