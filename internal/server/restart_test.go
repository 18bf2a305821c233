package server

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// savedRequests reads the requests file a stopped server left.
func savedRequests(t *testing.T, stateDir string) []string {
	t.Helper()
	reqs, bad, err := readRequests(stateDir)
	if err != nil || len(bad) > 0 {
		t.Fatalf("requests file: %v %v", err, bad)
	}
	var got []string
	for _, r := range reqs {
		got = append(got, r.name.Base)
	}
	return got
}

// Requests queued, waiting for their raw file or cut short by the stop
// timeout when the server stops are saved, and the next start delivers
// them at once, with no sweep to wait for (this one has none).
func TestRestartTakesUpRequests(t *testing.T) {
	o := testListenOptions(t)
	o.Jobs, o.StopTimeout = 1, 1
	inFlight, queued1, queued2 := writeRaw(t, o.DataDir, 1), writeRaw(t, o.DataDir, 2), writeRaw(t, o.DataDir, 3)
	missing := bogus(0)
	fake := newListenFake()
	fake.gates[inFlight] = make(chan struct{}) // never opens
	r := startListen(t, o, fake, Deps{})
	r.send(t, "proc "+inFlight, "proc "+queued1, "proc "+queued2, "proc "+missing)
	receive(t, fake.started, "Ensure")
	r.log.waitFor(t, "raw file not complete yet; retrying", 1) // the missing file's request, the last sent
	r.stop()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	want := []string{inFlight, queued1, queued2, missing}
	slices.Sort(want)
	if got := savedRequests(t, o.StateDir); !slices.Equal(got, want) {
		t.Fatalf("requests saved %q, want %q", got, want)
	}

	o.StopTimeout = listenPatience
	fake = newListenFake()
	r = startListen(t, o, fake, Deps{})
	var started []string
	for range 3 {
		started = append(started, receive(t, fake.started, "Ensure of a saved request"))
	}
	slices.Sort(started)
	if !slices.Equal(started, want[:3]) {
		t.Errorf("after the restart, ensured %q, want %q", started, want[:3])
	}
	r.log.waitFor(t, "requests left by the last run taken up", 1)
	if _, err := os.Stat(filepath.Join(o.StateDir, RequestsFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("requests file after it was taken up: %v", err)
	}
	// The file still missing is waited for as if just announced.
	name := writeRaw(t, o.DataDir, 1000)
	if err := os.Rename(filepath.Join(o.DataDir, "mods1b", name), filepath.Join(o.DataDir, "mods1b", missing)); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, fake.started, "Ensure of the file that appeared"); got != missing {
		t.Errorf("ensured %s, want %s", got, missing)
	}
	r.stop()
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.StateDir, RequestsFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("requests file after a stop with nothing left: %v", err)
	}
}

// A line of the requests file that is not a raw file name is reported and
// skipped; the others are delivered.
func TestRestartSkipsBadLines(t *testing.T) {
	o := testListenOptions(t)
	good := writeRaw(t, o.DataDir, 1)
	content := requestsHeader + "../../etc/passwd\n\n" + good + "\n"
	if err := os.WriteFile(filepath.Join(o.StateDir, RequestsFile), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := newListenFake()
	r := startListen(t, o, fake, Deps{})
	if got := receive(t, fake.started, "Ensure"); got != good {
		t.Errorf("ensured %s, want %s", got, good)
	}
	if n := r.log.count("requests left by the last run: line skipped"); n != 1 {
		t.Errorf("%d lines skipped, want 1", n)
	}
	if vs := r.log.attrs("requests left by the last run: line skipped", "err"); len(vs) == 1 && !strings.Contains(vs[0].String(), ":2: ") {
		t.Errorf("the warning does not name the line: %v", vs[0])
	}
}
