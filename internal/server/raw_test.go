package server

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/frame"
)

func TestResolveRaw(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	for _, d := range []string{"data/mods1b/sub", "data/mods1r", "outside", "data/mods1b/mods1b.20260119.0004.fits"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	write := func(p string) {
		if err := os.WriteFile(filepath.Join(root, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	write("data/mods1b/mods1b.20260119.0001.fits")
	write("data/mods1b/sub/real.fits")
	write("outside/mods1b.20260119.0003.fits")
	write("data/mods1r/mods1r.20260119.0001.fits")
	link("sub/real.fits", "data/mods1b/mods1b.20260119.0002.fits")                           // inside: fine
	link("../../outside/mods1b.20260119.0003.fits", "data/mods1b/mods1b.20260119.0003.fits") // escapes
	link("../mods1r/mods1r.20260119.0001.fits", "data/mods1b/mods1b.20260119.0005.fits")     // another channel's folder
	link("nowhere.fits", "data/mods1b/mods1b.20260119.0006.fits")                            // dangling
	link("../outside", "data/mods2b")                                                        // the channel folder itself elsewhere: the operator's choice
	write("outside/mods2b.20260119.0001.fits")

	cases := []struct {
		name string
		ok   bool
		gone bool
	}{
		{"mods1b.20260119.0001.fits", true, false},
		{"mods1b.20260119.0002.fits", true, false},
		{"mods1b.20260119.0003.fits", false, false},
		{"mods1b.20260119.0004.fits", false, false}, // a directory
		{"mods1b.20260119.0005.fits", false, false},
		{"mods1b.20260119.0006.fits", false, true},
		{"mods1b.20260119.0007.fits", false, true},
		{"mods2r.20260119.0001.fits", false, true}, // no channel folder
		{"mods2b.20260119.0001.fits", true, false},
	}
	for _, c := range cases {
		n, err := frame.ParseName(c.name)
		if err != nil {
			t.Fatal(err)
		}
		path, err := resolveRaw(data, n)
		if c.ok != (err == nil) || c.gone != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %q, %v", c.name, path, err)
			continue
		}
		if c.ok && path != filepath.Join(data, n.Chan, n.Base) {
			t.Errorf("%s: path %s", c.name, path)
		}
	}
}

func TestCheckRaw(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "mods1b"), 0o755)
	name := writeRaw(t, dir, 1)
	whole, err := os.ReadFile(filepath.Join(dir, "mods1b", name))
	if err != nil {
		t.Fatal(err)
	}
	// The raw file ends with the CONPARS table; the five HDUs before it end
	// where the table's header starts.
	conpars := strings.LastIndex(string(whole), "XTENSION= 'BINTABLE'")
	if conpars < 0 || conpars%2880 != 0 {
		t.Fatalf("CONPARS header at %d", conpars)
	}
	cases := []struct {
		name       string
		data       []byte
		incomplete bool
		ok         bool
	}{
		{"whole", whole, false, true},
		{"empty", nil, true, false},
		{"half a block", whole[:1440], true, false},
		{"cut in a data unit", whole[:len(whole)/2], true, false},
		{"cut in the last header", whole[:conpars+2880], true, false},
		{"five HDUs", whole[:conpars], true, false},
		{"not FITS", []byte(strings.Repeat("not a FITS file ", 400)), false, false},
	}
	for _, c := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := checkRaw(p)
		if (err == nil) != c.ok || errors.Is(err, errIncomplete) != c.incomplete {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
