package verify

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

func layoutIn(root string) frame.Layout {
	return frame.Layout{
		DataDir:  filepath.Join(root, "raw"),
		ProcDir:  filepath.Join(root, "proc"),
		RepoDir:  filepath.Join(root, "newdata"),
		StateDir: filepath.Join(root, "state"),
	}
}

func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeLedger(t *testing.T, l frame.Layout, channel string, events ...ledger.Event) {
	t.Helper()
	var b strings.Builder
	for _, ev := range events {
		b.WriteString(ledger.Format(ev) + "\n")
	}
	p := ledger.Path(l.StateDir, channel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func names(ns []frame.Name) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Base)
	}
	return out
}

func TestChannelFindsFilesInTheRawFolderAndTheLedger(t *testing.T) {
	l := layoutIn(t.TempDir())
	raw := filepath.Join(l.DataDir, "mods1b")
	touch(t,
		filepath.Join(raw, "mods1b.20260119.0002.fits"),
		filepath.Join(raw, "mods1b.20260119.0010.fits"),
		filepath.Join(raw, "mods1b.20260120.0001.fits"),
		filepath.Join(raw, "mods1r.20260119.0001.fits"), // another channel's file in the wrong folder
		filepath.Join(raw, "notes.txt"),
		filepath.Join(raw, ".mods1b.20260119.0003.fits.1.0011223344556677.dmtmp"),
		filepath.Join(l.DataDir, "mods1r", "mods1r.20260121.0001.fits"),
	)
	// The raw file of 0001 was cleaned away; the ledger still knows it.
	writeLedger(t, l, "mods1b",
		ledger.Event{File: "mods1b.20260119.0001.fits", Step: ledger.StepStore, Status: ledger.StatusOK},
		ledger.Event{File: "mods1b.20260118.0007.fits", Step: ledger.StepCondition, Status: ledger.StatusFailed, Reason: "bad"},
	)
	touch(t, filepath.Join(l.StateDir, "ledger", "MODS2R.ledger"))
	// Copies that neither knows of still bring their nights in.
	touch(t,
		filepath.Join(l.ProcDir, "20260117", "mods1b.20260117.0001.fits"),
		filepath.Join(l.ProcDir, "20260115", "mods1r.20260115.0001.fits"), // another channel's night
		filepath.Join(l.ProcDir, "scratch", "mods1b.20260114.0001.fits"),  // not a night folder
		filepath.Join(l.RepoDir, "mods1b.20260116.0001.fits"),
		filepath.Join(l.RepoDir, "mods1b.2026.0001.fits"),
	)

	ch, err := LoadChannel(l, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	nights, err := ch.Nights()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"20260116", "20260117", "20260118", "20260119", "20260120"}; !slices.Equal(nights, want) {
		t.Errorf("nights %v, want %v", nights, want)
	}
	want := []string{"mods1b.20260119.0001.fits", "mods1b.20260119.0002.fits", "mods1b.20260119.0010.fits"}
	if got := names(ch.Files("20260119")); !slices.Equal(got, want) {
		t.Errorf("files of 20260119: %v, want %v", got, want)
	}
	if !ch.HasRaw("mods1b.20260119.0002.fits") || ch.HasRaw("mods1b.20260119.0001.fits") {
		t.Error("HasRaw does not follow the raw folder")
	}
	if got := ch.State("mods1b.20260118.0007.fits")[ledger.StepCondition].Reason; got != "bad" {
		t.Errorf("ledger state reason %q, want bad", got)
	}
	chans, err := Channels(l)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"mods1b", "mods1r", "mods2r"}; !slices.Equal(chans, want) {
		t.Errorf("channels %v, want %v", chans, want)
	}
}

func TestChannelWithNothingHasNoFiles(t *testing.T) {
	l := layoutIn(t.TempDir())
	ch, err := LoadChannel(l, "mods2b")
	if err != nil {
		t.Fatal(err)
	}
	if nights, err := ch.Nights(); err != nil || len(nights) != 0 || len(ch.Files("20260119")) != 0 {
		t.Error("files found for a channel with no raw folder and no ledger")
	}
	extras, err := ch.Extras("20260119")
	if err != nil || len(extras) != 0 {
		t.Errorf("extras %v, %v in an empty tree", extras, err)
	}
	if _, err := os.Stat(l.StateDir); !os.IsNotExist(err) {
		t.Error("loading a channel created the state folder")
	}
}

func TestExtras(t *testing.T) {
	l := layoutIn(t.TempDir())
	n1, _ := frame.ParseName("mods1b.20260119.0001.fits")
	n2, _ := frame.ParseName("mods1b.20260119.0002.fits")
	uniq := "mods1b.20260119.031345.fits"
	touch(t,
		l.Raw(n1), l.Raw(n2),
		l.Stored(n1), l.Dispatched(n1), // where the layout puts them
		filepath.Join(l.StoreDir(n2), uniq), filepath.Join(l.RepoDir, uniq), // where the ledger put 0002 after a collision
		l.Stored(n2), // the file 0002 collided with
		filepath.Join(l.StoreDir(n1), "mods1b.20260119.0099.fits"),                            // unknown
		filepath.Join(l.RepoDir, "mods1b.20260119.0098.fits"),                                 // unknown
		filepath.Join(l.RepoDir, "mods1b.20260120.0001.fits"),                                 // another night
		filepath.Join(l.RepoDir, "mods2b.20260119.0001.fits"),                                 // another channel
		filepath.Join(l.RepoDir, "luci1.20260119.0001.fits"),                                  // another instrument
		filepath.Join(l.RepoDir, "MODS1B.new"),                                                // the lastdata file
		filepath.Join(l.StoreDir(n1), ".mods1b.20260119.0003.fits.77.0011223344556677.dmtmp"), // a writer at work
	)
	writeLedger(t, l, "mods1b",
		ledger.Event{File: n2.Base, Step: ledger.StepStore, Status: ledger.StatusOK, Dest: filepath.Join(l.StoreDir(n2), uniq)},
		ledger.Event{File: n2.Base, Step: ledger.StepDispatch, Status: ledger.StatusOK, Dest: filepath.Join(l.RepoDir, uniq)},
	)
	ch, err := LoadChannel(l, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ch.Extras("20260119")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		l.Stored(n2),
		filepath.Join(l.StoreDir(n1), "mods1b.20260119.0099.fits"),
		filepath.Join(l.RepoDir, "mods1b.20260119.0098.fits"),
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("extras\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLocate(t *testing.T) {
	l := layoutIn("/x")
	n, _ := frame.ParseName("mods1b.20260119.0001.fits")
	uniq := "/x/newdata/mods1b.20260119.031345.fits"
	ok := func(step, dest string) ledger.Event {
		return ledger.Event{File: n.Base, Step: step, Status: ledger.StatusOK, Dest: dest}
	}
	tests := []struct {
		name               string
		events             []ledger.Event
		stored, dispatched string
		recStored, recDisp bool
		whyStored, whyDisp string
	}{
		{name: "unknown", stored: l.Stored(n), dispatched: l.Dispatched(n)},
		{
			name:   "delivered under the UNIQNAME",
			events: []ledger.Event{ok(ledger.StepStore, l.Stored(n)), ok(ledger.StepDispatch, uniq)},
			stored: l.Stored(n), dispatched: uniq, recStored: true, recDisp: true,
		},
		{
			name:   "condition failed",
			events: []ledger.Event{{File: n.Base, Step: ledger.StepCondition, Status: ledger.StatusFailed, Reason: "geometry: bad DATASEC"}},
			stored: l.Stored(n), dispatched: l.Dispatched(n),
			whyStored: "condition failed: geometry: bad DATASEC", whyDisp: "not stored",
		},
		{
			name: "dispatch pending",
			events: []ledger.Event{ok(ledger.StepStore, l.Stored(n)),
				{File: n.Base, Step: ledger.StepDispatch, Status: ledger.StatusPending, Reason: "stat /newdata: no such file or directory"}},
			stored: l.Stored(n), dispatched: l.Dispatched(n), recStored: true,
			whyDisp: "dispatch pending: stat /newdata: no such file or directory",
		},
		{
			name:   "already there",
			events: []ledger.Event{{File: n.Base, Step: ledger.StepStore, Status: ledger.StatusAlready, Dest: "/x/proc/20260119/other.fits"}},
			stored: "/x/proc/20260119/other.fits", dispatched: l.Dispatched(n), recStored: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := map[string]ledger.Event{}
			for _, ev := range tt.events {
				state[ev.Step] = ev
			}
			s, d := Locate(l, n, state)
			if s.Path != tt.stored || d.Path != tt.dispatched {
				t.Errorf("paths %s, %s; want %s, %s", s.Path, d.Path, tt.stored, tt.dispatched)
			}
			if (s.Recorded != nil) != tt.recStored || (d.Recorded != nil) != tt.recDisp {
				t.Errorf("recorded %v, %v; want %v, %v", s.Recorded != nil, d.Recorded != nil, tt.recStored, tt.recDisp)
			}
			if s.Why != tt.whyStored || d.Why != tt.whyDisp {
				t.Errorf("why %q, %q; want %q, %q", s.Why, d.Why, tt.whyStored, tt.whyDisp)
			}
		})
	}
}

func TestValidChannel(t *testing.T) {
	for s, want := range map[string]bool{
		"mods1b": true, "m": true, "luci2": true,
		"": false, "MODS1B": false, "1mods": false, "mods-1b": false, "mods.1b": false, "../x": false,
	} {
		if ValidChannel(s) != want {
			t.Errorf("ValidChannel(%q) = %v", s, !want)
		}
	}
}
