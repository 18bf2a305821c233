package udp

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/obsdata/dataman/internal/frame"
)

func TestParse(t *testing.T) {
	const name = "mods1b.20260119.0001.fits"
	ok := []struct {
		in   string
		cmd  Command
		path string
	}{
		{"proc /home/data/" + name, Proc, "/home/data/" + name},
		{"proc " + name, Proc, name},
		{"PROC " + name, Proc, name},
		{"Proc\t" + name + "\n", Proc, name},
		{"  proc   " + name + "  trailing words are ignored", Proc, name},
		{"proc ../../" + name, Proc, "../../" + name}, // only the base name counts
		{"proc /home/data/mods2r.20260119.12345.fits", Proc, "/home/data/mods2r.20260119.12345.fits"},
		{"quit", Quit, ""},
		{"QUIT", Quit, ""},
		{"quit now please", Quit, ""},
		{"\r\nquit\r\n", Quit, ""},
	}
	for _, c := range ok {
		r, err := Parse([]byte(c.in))
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if r.Cmd != c.cmd || r.Path != c.path {
			t.Errorf("Parse(%q) = %v %q, want %v %q", c.in, r.Cmd, r.Path, c.cmd, c.path)
		}
		if r.Cmd == Proc && r.Name.Base != c.path[strings.LastIndexByte(c.path, '/')+1:] {
			t.Errorf("Parse(%q).Name.Base = %q", c.in, r.Name.Base)
		}
	}

	bad := []struct {
		in   string
		want error
	}{
		{"", ErrEmpty},
		{" ", ErrBlank},
		{"\t\r\n \v\f", ErrBlank},
		{"\u00a0\u2003", ErrBlank}, // Unicode spaces are white space too
		{"proc", ErrNoFile},
		{"PROC   ", ErrNoFile},
		{"proc\xff " + name, ErrNotUTF8},
		{"proc " + name + "\xc0", ErrNotUTF8},
		{"hello", ErrUnknown},
		{"procx " + name, ErrUnknown},
		{"quitx", ErrUnknown},
		{"proc /etc/passwd", ErrBadName},
		{"proc ..", ErrBadName},
		{"proc /home/data/", ErrBadName},
		{"proc " + name + "/", ErrBadName},
		{"proc MODS1B.20260119.0001.fits", ErrBadName},
		{"proc mods1b.20261319.0001.fits", ErrBadName}, // month 13
		{"proc mods1b.20260119.001.fits", ErrBadName},
		{"proc mods1b.20260119.0001.fits.dmtmp", ErrBadName},
		{"proc .mods1b.20260119.0001.fits.123.abc.dmtmp", ErrBadName},
		{"proc /" + strings.Repeat("d/", 3000) + name, ErrTooLong},
		{strings.Repeat("x", MaxDatagram+1), ErrTooLong},
	}
	for _, c := range bad {
		_, err := Parse([]byte(c.in))
		if !errors.Is(err, c.want) {
			t.Errorf("Parse(%s) = %v, want %v", Quote([]byte(c.in)), err, c.want)
		}
	}
}

// A datagram of exactly MaxDatagram bytes is still parsed: only longer ones
// are refused for their length.
func TestParseMaxLength(t *testing.T) {
	in := "proc mods1b.20260119.0001.fits " + strings.Repeat("x", MaxDatagram-31)
	if len(in) != MaxDatagram {
		t.Fatalf("built %d bytes", len(in))
	}
	if _, err := Parse([]byte(in)); err != nil {
		t.Fatal(err)
	}
}

func TestQuote(t *testing.T) {
	if got := Quote([]byte("a\nb\xff")); got != `"a\nb\xff"` {
		t.Errorf("Quote = %s", got)
	}
	long := Quote([]byte(strings.Repeat("y", 1000)))
	if !strings.HasSuffix(long, "… (1000 bytes)") || len(long) > quoteLimit+40 {
		t.Errorf("Quote of 1000 bytes = %s", long)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"proc /home/data/mods1b.20260119.0001.fits", "quit", "QUIT x", "", " ", "proc",
		"proc ../../etc/passwd", "proc mods1r.20251231.99999.fits\x00", "\xff\xfe", "Proc\u00a0mods2b.20260101.0001.fits",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			if r != (Request{}) {
				t.Fatalf("error %v with a request %+v", err, r)
			}
			return
		}
		if len(b) > MaxDatagram || !utf8.Valid(b) {
			t.Fatalf("accepted %d bytes, valid UTF-8 %v", len(b), utf8.Valid(b))
		}
		words := strings.Fields(string(b))
		switch r.Cmd {
		case Quit:
			if !strings.EqualFold(words[0], "quit") {
				t.Fatalf("quit from %q", b)
			}
		case Proc:
			if strings.ContainsAny(r.Name.Base, "/\\\x00") || strings.HasPrefix(r.Name.Base, ".") {
				t.Fatalf("proc accepted base name %q", r.Name.Base)
			}
			if !strings.HasSuffix(r.Path, r.Name.Base) || r.Path != words[1] {
				t.Fatalf("proc %q from %q: path %q", r.Name.Base, b, r.Path)
			}
			if n, err := frame.ParseName(r.Name.Base); err != nil || n != r.Name {
				t.Fatalf("name %q does not parse back: %v", r.Name.Base, err)
			}
			again, err := Parse([]byte("proc " + r.Name.Base))
			if err != nil || again.Name != r.Name {
				t.Fatalf("re-parse of %q: %+v, %v", r.Name.Base, again, err)
			}
		default:
			t.Fatalf("command %v from %q", r.Cmd, b)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	msg := []byte("proc /home/data/mods1b.20260119.0001.fits")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(msg); err != nil {
			b.Fatal(err)
		}
	}
}
