package fits

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
)

// realHeader returns the real raw MODS primary header of spec section 11 as
// header blocks.
func realHeader(t testing.TB) []byte {
	t.Helper()
	text, err := os.ReadFile("../testdata/synth/real-header-dump.txt")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimRight(string(text), "\n"), "\n") {
		if len(line) != CardLen {
			t.Fatalf("dump line is %d characters: %q", len(line), line)
		}
		b.WriteString(line)
	}
	b.WriteString(pad80("END"))
	for b.Len()%BlockLen != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes()
}

func pad80(s string) string { return s + strings.Repeat(" ", CardLen-len(s)) }

func TestRealHeaderRoundTrip(t *testing.T) {
	raw := realHeader(t)
	h, n, err := ParseHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(raw) || len(h.Cards) != 78 {
		t.Fatalf("parsed %d bytes, %d cards; want %d bytes, 78 cards", n, len(h.Cards), len(raw))
	}
	out, err := h.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, raw) {
		t.Fatal("header bytes changed in a round trip")
	}
	checks := []struct {
		key  string
		kind Kind
		want string
	}{
		{"EXTEND", KindBool, "T"},
		{"INTMS", KindInt, "1000"},
		{"LATITUDE", KindFloat, "32.70131"},
		{"FILENAME", KindString, "mods2r.20251210.0009.fits"},
		{"CCDSUM", KindString, "1 1"},
		{"OBJECT", KindString, "Sieve Mask 1Kx1K 500ms"},
		{"AZCAM-HEAD", KindString, "OK"},
		{"TIMEZONE", KindString, "0.0"},
	}
	for _, c := range checks {
		card, ok := h.Get(c.key)
		if !ok {
			t.Errorf("%s missing", c.key)
			continue
		}
		if card.Kind != c.kind || card.ValueString() != c.want {
			t.Errorf("%s = %v %q, want %v %q", c.key, card.Kind, card.ValueString(), c.kind, c.want)
		}
	}
	if c, _ := h.Get("AZCAM-HEAD"); !c.Hierarch {
		t.Error("AZCAM-HEAD not read as a HIERARCH card")
	}
	if c, _ := h.Get("FILENAME"); c.Comment != "base filename at acquisition" {
		t.Errorf("FILENAME comment %q", c.Comment)
	}
}

func TestFormatCard(t *testing.T) {
	cases := []struct {
		card Card
		want string
	}{
		{StringCard("OBJECT", "M51", "target"), "OBJECT  = 'M51     '           / target"},
		{StringCard("OBJECT", "", ""), "OBJECT  = ''"},
		{StringCard("NSTYPE", "", "Non-sidereal target type"), "NSTYPE  = '' / Non-sidereal target type"},
		{StringCard("OBSERVER", "O'Neil", ""), "OBSERVER= 'O''Neil '"},
		{IntCard("NAXIS1", 4178, ""), "NAXIS1  =                 4178"},
		{IntCard("LTV1", -3634, "Corrected LTV1"), "LTV1    =                -3634 / Corrected LTV1"},
		{FloatCard("BZERO", 32768, ""), "BZERO   =              32768.0"},
		{FloatCard("CCDTEMP", -999.9, "x"), "CCDTEMP =               -999.9 / x"},
		{FloatCard("MJD-OBS", 61059.13386201389, ""), "MJD-OBS =    61059.13386201389"},
		{FloatCard("CD1_1", 0.000277777784503996, ""), "CD1_1   = 0.000277777784503996"},
		{FloatCard("BIG", 1e20, ""), "BIG     =                1E+20"},
		{FloatCard("TINY", -1.5e-7, ""), "TINY    =             -1.5E-07"},
		{BoolCard("NONSIDER", false, "Target is non-sidereal"), "NONSIDER=                    F / Target is non-sidereal"},
		{CommentCard("COMMENT", "MODS"), "COMMENT MODS"},
		{Card{Key: "AZCAM-HEAD", Hierarch: true, Kind: KindString, Str: "OK", Comment: "AzCam Header flag"},
			"HIERARCH AZCAM-HEAD = 'OK      ' / AzCam Header flag"},
		{StringCard("X", "v", strings.Repeat("c", 100)), "X       = 'v       '           / " + strings.Repeat("c", 47)},
	}
	for _, c := range cases {
		imgs, err := c.card.Images()
		if err != nil {
			t.Errorf("%s: %v", c.card.Key, err)
			continue
		}
		if len(imgs) != 1 || imgs[0] != pad80(c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.card.Key, imgs, pad80(c.want))
		}
		back, err := parseCard(imgs[0])
		if err != nil || back.Kind != c.card.Kind || back.ValueString() != c.card.ValueString() {
			t.Errorf("%s does not read back: %v %v %q", c.card.Key, err, back.Kind, back.ValueString())
		}
	}
}

func TestFormatRejects(t *testing.T) {
	for _, c := range []Card{
		StringCard("lower", "x", ""),
		StringCard("TOOLONGKEY", "x", ""),
		StringCard("OBJECT", "tab\there", ""),
		FloatCard("NAN", nan(), ""),
	} {
		if _, err := c.Images(); err == nil {
			t.Errorf("%q: formatted, want an error", c.Key)
		}
	}
}

func TestLongStringRoundTrip(t *testing.T) {
	for _, val := range []string{
		strings.Repeat("a", 68), strings.Repeat("b", 200), strings.Repeat("'", 90), "x" + strings.Repeat("y'", 50),
	} {
		for _, comment := range []string{"", "short comment", strings.Repeat("long comment ", 12)} {
			h := &Header{}
			h.Append(StringCard("OBJECT", val, comment))
			b, err := h.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			back, _, err := ParseHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := back.String("OBJECT")
			if err != nil || got != val || len(back.Cards) != 1 {
				t.Fatalf("long string %q (comment %q) read back as %q, %d cards, %v", val, comment, got, len(back.Cards), err)
			}
			// astropy truncates the comment of a string that fits on one
			// card, and continues it only when the value itself needs CONTINUE.
			esc := strings.ReplaceAll(val, "'", "''")
			if c, _ := back.Get("OBJECT"); len(esc) > 68 && c.Comment != strings.TrimRight(comment, " ") {
				t.Fatalf("comment %q read back as %q", comment, c.Comment)
			}
		}
	}
}

func TestAppendLikeAstropy(t *testing.T) {
	h := &Header{}
	h.Append(IntCard("A", 1, ""))
	h.Append(CommentCard("COMMENT", "banner"))
	h.Append(IntCard("B", 2, ""))
	h.Append(CommentCard("COMMENT", "trailing"))
	h.Append(IntCard("C", 3, ""))
	var keys []string
	for _, c := range h.Cards {
		keys = append(keys, c.Key+c.Comment)
	}
	// astropy's Header.append puts a keyword card after the last keyword
	// card, before any commentary cards that follow it.
	if got := strings.Join(keys, ","); got != "A,B,C,COMMENTbanner,COMMENTtrailing" {
		t.Fatalf("order %s", got)
	}
	h.Set(IntCard("A", 9, "changed"))
	if v, _ := h.Int("A"); v != 9 || h.Index("A") != 0 {
		t.Fatal("Set did not replace in place")
	}
	if !h.Delete("B") || h.Has("B") || h.Delete("B") {
		t.Fatal("Delete")
	}
	h.Add(IntCard("D", 4, ""))
	if h.Cards[len(h.Cards)-1].Key != "D" {
		t.Fatal("Add did not put the card last")
	}
}

func TestParseValues(t *testing.T) {
	cases := []struct {
		img  string
		kind Kind
		val  string
		com  string
	}{
		{"A       =                  1.5D3 / fortran", KindFloat, "1500.0", "fortran"},
		{"A       =                  +12", KindInt, "12", ""},
		{"A       = 'it''s'  / q", KindString, "it's", "q"},
		{"A       = '  lead'", KindString, "  lead", ""},
		{"A       =                      / undefined", KindNone, "", "undefined"},
		{"A       = (1.0, 2.0)", KindOther, "(1.0, 2.0)", ""},
		{"A       = 'unterminated", KindOther, "'unterminated", ""},
		{"A       =                  NaN", KindOther, "NaN", ""},
		{"A        no equals sign here", KindNone, "", " no equals sign here"},
	}
	for _, c := range cases {
		card, err := parseCard(pad80(c.img))
		if err != nil {
			t.Fatalf("%q: %v", c.img, err)
		}
		if card.Kind != c.kind || card.ValueString() != c.val || card.Comment != c.com {
			t.Errorf("%q: got %v %q %q", c.img, card.Kind, card.ValueString(), card.Comment)
		}
	}
	if _, err := parseCard(pad80("A       = 'caf\xc3\xa9'")[:80]); err == nil {
		t.Error("non-ASCII card accepted")
	}
}

func FuzzParseCard(f *testing.F) {
	raw := realHeader(f)
	for i := 0; i+CardLen <= len(raw); i += CardLen * 7 {
		f.Add(raw[i : i+CardLen])
	}
	f.Add([]byte(pad80("HIERARCH A B C = 'x' / y")))
	f.Add([]byte(pad80("CONTINUE  'abc&'")))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != CardLen {
			return
		}
		c, err := parseCard(string(b))
		if err != nil {
			return
		}
		imgs, err := c.Images()
		if err != nil || len(imgs) != 1 || imgs[0] != string(b) {
			t.Fatalf("unmodified card not kept byte for byte: %q -> %q %v", b, imgs, err)
		}
		// A card rebuilt from its parsed value must read back to that value.
		c.raw = nil
		imgs, err = c.Images()
		if err != nil {
			return
		}
		h, _, err := ParseHeader([]byte(strings.Join(imgs, "") + pad80("END") + strings.Repeat(" ", BlockLen)))
		if err != nil {
			t.Fatalf("reformatted card %q does not parse: %v", imgs, err)
		}
		if len(h.Cards) == 0 {
			return
		}
		back := h.Cards[0]
		if c.Kind == KindFloat && back.Kind == KindFloat {
			// astropy's 20-character limit can cost a 16-digit value with an
			// exponent its last digit; nothing more.
			if d := math.Abs(back.Float - c.Float); d > 1e-14*math.Abs(c.Float) {
				t.Fatalf("%q: %g read back as %g", b, c.Float, back.Float)
			}
			return
		}
		if c.Kind != KindNone && c.Kind != KindOther && (back.Kind != c.Kind || back.ValueString() != c.ValueString()) {
			t.Fatalf("%q: value %v %q read back as %v %q", b, c.Kind, c.ValueString(), back.Kind, back.ValueString())
		}
	})
}
