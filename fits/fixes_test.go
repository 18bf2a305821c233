package fits

import (
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/astro"
)

func header(cards ...Card) *Header {
	h := &Header{}
	for _, c := range cards {
		h.Add(c)
	}
	return h
}

func value(t *testing.T, h *Header, key string) string {
	t.Helper()
	c, ok := h.Get(key)
	if !ok {
		return "<missing>"
	}
	return c.ValueString()
}

var fullGeometry = Geometry{NX: 4178, NY: 1544, Overscan: 32, BinX: 1, BinY: 1, RefX: 4146, RefY: 1544, BITPIX: 16}

// TestFixMiscRules covers the rules where dataman deliberately differs
// from dataMan (spec 13 row 12) and the ones with awkward inputs.
func TestFixMiscRules(t *testing.T) {
	cases := []struct {
		name  string
		in    []Card
		want  map[string]string
		warns string // a warning must mention this ("" for none)
	}{
		{"NSTYPE alone blank, NSEPHFIL set: each on its own",
			[]Card{StringCard("NSTYPE", "", ""), StringCard("NSEPHFIL", "comet.eph", "")},
			map[string]string{"NSTYPE": "None", "NSEPHFIL": "comet.eph"}, ""},
		{"NSEPHFIL missing: NSTYPE keeps its value",
			[]Card{StringCard("NSTYPE", "COMET", "")},
			map[string]string{"NSTYPE": "COMET", "NSEPHFIL": "None"}, ""},
		{"NONSIDER 0 is F", []Card{IntCard("NONSIDER", 0, "")}, map[string]string{"NONSIDER": "F"}, ""},
		{"NONSIDER 1 is T", []Card{IntCard("NONSIDER", 1, "")}, map[string]string{"NONSIDER": "T"}, ""},
		{"NONSIDER '0' is F, not T as in dataMan", []Card{StringCard("NONSIDER", "0", "")}, map[string]string{"NONSIDER": "F"}, ""},
		{"NONSIDER 'abc' is kept, with a warning", []Card{StringCard("NONSIDER", "abc", "")}, map[string]string{"NONSIDER": "abc"}, "NONSIDER"},
		{"NONSIDER missing stays missing", nil, map[string]string{"NONSIDER": "<missing>"}, ""},
		{"LBTWLINK '1' is Up", []Card{StringCard("LBTWLINK", "1", "")}, map[string]string{"LBTWLINK": "Up"}, ""},
		{"LBTWLINK '0' is Down", []Card{StringCard("LBTWLINK", "0", "")}, map[string]string{"LBTWLINK": "Down"}, ""},
		{"LBTWLINK 'True' is Unknown", []Card{StringCard("LBTWLINK", "True", "")}, map[string]string{"LBTWLINK": "Unknown"}, ""},
		{"TELALT/TELAZ in DMS become degrees, ZD from TELALT",
			[]Card{StringCard("TELALT", "67:48:51.2", ""), StringCard("TELAZ", "-00:30:00", "")},
			map[string]string{"TELALT": "67.81422222222221", "TELAZ": "-0.5", "ZD": "22.18577777777779"}, ""},
		{"a bad TELAZ leaves both as they are; ZD still from TELALT",
			[]Card{StringCard("TELALT", "67:48:51.2", ""), StringCard("TELAZ", "north", "")},
			map[string]string{"TELALT": "67:48:51.2", "TELAZ": "north", "ZD": "22.18577777777779"}, "TELAZ"},
		// Values as astropy 5.2 writes them (%.16G), e.g. -99.99 as in dataMan.
		{"no TELALT: ZD is -99.99, no warning", nil, map[string]string{"ZD": "-99.98999999999999"}, ""},
		{"IMAGETYP upper-cased, NEXTEND deleted, OBJNAME from OBJECT",
			[]Card{StringCard("IMAGETYP", "flat", ""), IntCard("NEXTEND", 4, ""), StringCard("OBJECT", "", "")},
			map[string]string{"IMAGETYP": "FLAT", "NEXTEND": "<missing>", "OBJNAME": ""}, ""},
		{"no OBJECT: OBJNAME None", nil, map[string]string{"OBJNAME": "None", "CCDROI": "[1:8292,1:3088]"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := header(c.in...)
			warns := strings.Join(fixMisc(h, fullGeometry), "\n")
			for k, want := range c.want {
				if got := value(t, h, k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if (c.warns == "") != (warns == "") || !strings.Contains(warns, c.warns) {
				t.Errorf("warnings %q, want one mentioning %q", warns, c.warns)
			}
		})
	}
}

// TestFixMiscNoCCDSUM: without IM1's CCDSUM dataMan writes no CCDXBIN and
// CCDYBIN; neither do we, and we say so.
func TestFixMiscNoCCDSUM(t *testing.T) {
	g := fullGeometry
	g.NoCCDSUM = true
	h := header()
	warns := strings.Join(fixMisc(h, g), "\n")
	if h.Has("CCDXBIN") || h.Has("CCDYBIN") {
		t.Errorf("CCDXBIN %s, CCDYBIN %s written without CCDSUM", value(t, h, "CCDXBIN"), value(t, h, "CCDYBIN"))
	}
	if !strings.Contains(warns, "no CCDSUM") || !strings.Contains(warns, "CCDXBIN and CCDYBIN not written") {
		t.Errorf("warnings %q", warns)
	}
	if value(t, h, "CCDROI") != "[1:8292,1:3088]" || value(t, h, "OBJRADEC") != "FK5" {
		t.Error("the other rules did not run")
	}
}

// TestFixDateTimeIdempotent: a DATE-OBS that already holds a time is not
// rewritten (dataMan made it …T…T…), and azcam's ".1000" rolls over.
func TestFixDateTimeIdempotent(t *testing.T) {
	h := header(StringCard("DATE-OBS", "2026-01-19", ""), StringCard("UTC-OBS", "23:59:59.1000", ""),
		StringCard("TELRA", "02:42:40.771", ""), StringCard("TELDEC", "-00:00:47.84", ""))
	if w := fixDateTime(h, astro.LBT); len(w) != 0 {
		t.Fatalf("warnings %q", w)
	}
	if got := value(t, h, "DATE-OBS"); got != "2026-01-20T00:00:00.000" {
		t.Fatalf("DATE-OBS %q, want the .1000 rolled into the next day", got)
	}
	first := h.Dump()
	fixDateTime(h, astro.LBT)
	if h.Dump() != first {
		t.Fatalf("a second fixDateTime changed the header:\n%s\nthen\n%s", first, h.Dump())
	}
	// Without TELRA the reason is given, not swallowed.
	h = header(StringCard("DATE-OBS", "2026-01-19", ""), StringCard("UTC-OBS", "03:12:45.678", ""))
	w := fixDateTime(h, astro.LBT)
	if len(w) != 1 || !strings.Contains(w[0], "TELRA") || value(t, h, "MJD-OBS") == "<missing>" || value(t, h, "HJD-OBS") != "<missing>" {
		t.Fatalf("no TELRA: warnings %q, MJD %s, HJD %s", w, value(t, h, "MJD-OBS"), value(t, h, "HJD-OBS"))
	}
}

// TestFixDateTimeRollsISO: an ISO DATE-OBS that already holds azcam's
// ".1000" rolls over as the date-only case does, so MJD-OBS is not 0.9 s
// early; a second 60 with no leap second is read as astropy reads it.
func TestFixDateTimeRollsISO(t *testing.T) {
	cases := []struct {
		date, utc string // utc "" for none
		want      string
		mjd       float64 // from astropy 5.2.1: Time(want, scale="utc").mjd
		warn      string
	}{
		{"2026-01-19T03:12:45.1000", "", "2026-01-19T03:12:46.000", 61059.13386574074, ""},
		{"2026-01-19T23:59:59.1000", "03:12:45.678", "2026-01-20T00:00:00.000", 61060, ""},
		{"2026-01-19T03:12:45.678", "", "2026-01-19T03:12:45.678", 61059.13386201389, ""},
		{"2026-01-19", "23:59:60.000", "2026-01-20T00:00:00.000", 61060, "second 60"},
		{"2026-01-19T12:00:60.5", "", "2026-01-19T12:01:00.5", 61059.50070023148, "second 60"},
		// A real leap second stays one.
		{"2016-12-31", "23:59:60.500", "2016-12-31T23:59:60.500", 57753.99999421303, ""},
	}
	for _, c := range cases {
		h := header(StringCard("DATE-OBS", c.date, ""), StringCard("TELRA", "02:42:40.771", ""), StringCard("TELDEC", "-00:00:47.84", ""))
		if c.utc != "" {
			h.Add(StringCard("UTC-OBS", c.utc, ""))
		}
		w := strings.Join(fixDateTime(h, astro.LBT), "; ")
		if got := value(t, h, "DATE-OBS"); got != c.want {
			t.Errorf("%s %s: DATE-OBS %q, want %q", c.date, c.utc, got, c.want)
		}
		if mjd, err := h.Float("MJD-OBS"); err != nil || mjd != c.mjd {
			t.Errorf("%s %s: MJD-OBS %v (%v), want %v", c.date, c.utc, mjd, err, c.mjd)
		}
		if (c.warn == "") != (w == "") || !strings.Contains(w, c.warn) {
			t.Errorf("%s %s: warnings %q, want one about %q", c.date, c.utc, w, c.warn)
		}
		first := h.Dump()
		if w := fixDateTime(h, astro.LBT); len(w) != 0 || h.Dump() != first {
			t.Errorf("%s %s: a second fixDateTime changed the header or warned %q", c.date, c.utc, w)
		}
	}
}

// TestFixDateTimeNoStart: without an exposure start, DATE-OBS is left as it
// is (dataMan wrote "<date>T<garbage>"), the times are left out, and the
// warning gives the reason.
func TestFixDateTimeNoStart(t *testing.T) {
	cases := []struct {
		name  string
		cards []Card
		why   string
	}{
		{"no DATE-OBS", []Card{StringCard("UTC-OBS", "03:12:45.678", "")}, "DATE-OBS"},
		{"no UTC-OBS", []Card{StringCard("DATE-OBS", "2026-01-19", "")}, "UTC-OBS"},
		{"garbage UTC-OBS", []Card{StringCard("DATE-OBS", "2026-01-19", ""), StringCard("UTC-OBS", "garbage", "")}, `UTC-OBS "garbage"`},
		{"garbage DATE-OBS time", []Card{StringCard("DATE-OBS", "2026-01-19T25:00:00", "")}, `DATE-OBS "2026-01-19T25:00:00"`},
	}
	for _, c := range cases {
		h := header(append(c.cards, StringCard("TELRA", "02:42:40.771", ""), StringCard("TELDEC", "-00:00:47.84", ""))...)
		before := value(t, h, "DATE-OBS")
		w := strings.Join(fixDateTime(h, astro.LBT), "; ")
		if got := value(t, h, "DATE-OBS"); got != before {
			t.Errorf("%s: DATE-OBS %q became %q", c.name, before, got)
		}
		for _, k := range []string{"MJD-OBS", "HJD-OBS", "BJD-OBS"} {
			if h.Has(k) {
				t.Errorf("%s: %s written", c.name, k)
			}
		}
		if !strings.Contains(w, c.why) || !strings.Contains(w, "MJD-OBS, HJD-OBS and BJD-OBS are not written") {
			t.Errorf("%s: warnings %q, want the reason %q", c.name, w, c.why)
		}
	}
}
