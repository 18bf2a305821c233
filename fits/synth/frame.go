package synth

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/obsdata/dataman/fits"
)

// Scene is what the illuminated pixels show.
type Scene int

const (
	// SceneBias has no light: bias, read noise and the hot edges only.
	SceneBias Scene = iota
	// SceneFlat is a smooth lamp illumination of the whole active area.
	SceneFlat
	// SceneSpectrum is a long-slit spectrum dispersed along x: a continuum
	// trace with emission lines, sky lines filling the slit, and cosmic rays.
	SceneSpectrum
)

func (s Scene) String() string {
	switch s {
	case SceneBias:
		return "bias"
	case SceneFlat:
		return "flat"
	case SceneSpectrum:
		return "spectrum"
	}
	return fmt.Sprintf("Scene(%d)", int(s))
}

// Frame describes one raw exposure.
type Frame struct {
	Channel   string // mods1b, mods1r, mods2b, mods2r
	Seq       int    // azcam sequence number, the NNNN of the file name
	Mode      Mode
	Legacy    bool      // December 2025: 8288 columns, REF-PIX1 4144, extensions Q1..Q4, noon-to-noon file date
	Start     time.Time // exposure start
	ExpTime   float64   // seconds
	ImageType string    // lowercased; a type mods.py does not know becomes comp
	Object    string

	Telescope    bool // write the Telescope section (the IIF link was up)
	DMSAltAz     bool // TELALT/TELAZ as DMS strings, as before 2026-02-26
	Instrument   bool // write the Instrument section
	Fraction1000 bool // UTC-OBS, TIME-OBS and UT are Start's whole second + ".1000", azcam's rounding bug

	ConparsRows int   // rows of the CONPARS table; 0 means 205, as in the real file
	Seed        int64 // noise, cosmic rays, bias levels and status readings derive from it
	Scene       Scene

	// TimeZone is Python's time.timezone/3600 on the azcam host, hours west
	// of UTC: 0 in December 2025, when the servers kept UTC, 7 on US/Arizona
	// time. It gives TIMEZONE and LOCTIME.
	TimeZone float64
	// Observer, Partner, PIName, PropID, Support and TelOps are set at run
	// time with mods.set_keyword; empty means azcam's template value.
	Observer, Partner, PIName, PropID, Support, TelOps string
	// TelRA and TelDec are the sexagesimal pointing of the Telescope section;
	// empty means NGC 1068, the target of the spec's examples.
	TelRA, TelDec string
	// Status replaces the values of CONPARS rows; keys not in the table
	// are appended, sorted.
	Status map[string]string
	// EditPrimary, if set, may change the primary header just before it is
	// written, to make files azcam would not.
	EditPrimary func(*fits.Header)
}

// Channels are the four MODS spectrograph channels.
var Channels = []string{"mods1b", "mods1r", "mods2b", "mods2r"}

// Default returns a 60 s spectrum of NGC 1068 with both IIF sections, taken
// 2026-01-19T03:12:45.678 UTC plus seq minutes on servers keeping Arizona
// time, its seed hashed from channel and seq. An unknown mode name is kept
// and reported by Write.
func Default(channel string, seq int, mode string) Frame {
	m, err := ModeByName(mode)
	if err != nil {
		m = Mode{Name: mode}
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s.%d", channel, seq)
	return Frame{
		Channel:    channel,
		Seq:        seq,
		Mode:       m,
		Start:      time.Date(2026, 1, 19, 3, 12, 45, 678e6, time.UTC).Add(time.Duration(seq) * time.Minute),
		ExpTime:    60,
		ImageType:  "object",
		Object:     "NGC 1068",
		Telescope:  true,
		Instrument: true,
		Seed:       int64(h.Sum64()),
		Scene:      SceneSpectrum,
		TimeZone:   7,
	}
}

// ObsDate is the observing date of azcam's utcObsDate (and dataMan's
// obsDate) for an instant: the UTC date, except that afternoon calibrations,
// 12:00 to 17:00 on the servers' US/Arizona clock, get the next day's.
func ObsDate(t time.Time) string {
	u := t.UTC()
	if h := u.Add(-7 * time.Hour).Hour(); h >= 12 && h < 17 {
		u = u.AddDate(0, 0, 1)
	}
	return u.Format("20060102")
}

// LocalObsDate is the older noon-to-noon convention (mods.py locObsDate),
// which azcam used for file names until 2026-01-23: the date of the night
// that starts at local noon, in t's location.
func LocalObsDate(t time.Time) string {
	if t.Hour() < 12 {
		t = t.AddDate(0, 0, -1)
	}
	return t.Format("20060102")
}

// Name is the raw file name azcam gives the frame. Legacy frames, all from
// before 2026-01-23, are dated noon-to-noon on the azcam host's clock.
func (f Frame) Name() string {
	date := ObsDate(f.Start)
	if f.Legacy {
		date = LocalObsDate(f.Start.In(time.FixedZone("", -int(f.TimeZone*3600))))
	}
	return fmt.Sprintf("%s.%s.%04d.fits", f.Channel, date, f.Seq)
}

// channelInfo holds the per-channel values of azcam's header templates.
type channelInfo struct {
	instrume, color, detector, telescop string
	pixscale                            float64
	mods1                               bool
}

func (f Frame) channel() (channelInfo, error) {
	switch f.Channel {
	case "mods1b":
		return channelInfo{"MODS1B", "BLUE", "e2v CCD231-68 Blue CCD 1", "LBT-SX", 0.12, true}, nil
	case "mods1r":
		return channelInfo{"MODS1R", "RED", "e2v CCD231-68 Red CCD 1", "LBT-SX", 0.123, true}, nil
	case "mods2b":
		return channelInfo{"MODS2B", "BLUE", "e2v CCD231-68 Blue CCD 2", "LBT-DX", 0.12, false}, nil
	case "mods2r":
		return channelInfo{"MODS2R", "RED", "e2v CCD231-68 Red CCD 2", "LBT-DX", 0.123, false}, nil
	}
	return channelInfo{}, fmt.Errorf("unknown channel %q (valid: %s)", f.Channel, strings.Join(Channels, ", "))
}

// defaultConparsRows is the row count of the real December 2025 CONPARS.
const defaultConparsRows = 205

func (f Frame) check() (channelInfo, geometry, error) {
	ch, err := f.channel()
	if err != nil {
		return ch, geometry{}, err
	}
	m := f.Mode
	if m.BinX == 0 && m.BinY == 0 {
		// A Mode with only a name: what Default keeps for a name it did
		// not know, or a caller's shorthand.
		if m, err = ModeByName(m.Name); err != nil {
			return ch, geometry{}, err
		}
	}
	g, err := newGeometry(m, f.Legacy)
	if err != nil {
		return ch, g, err
	}
	switch {
	case f.Seq < 0:
		return ch, g, fmt.Errorf("sequence number %d is negative", f.Seq)
	case f.Start.IsZero():
		return ch, g, fmt.Errorf("no exposure start time")
	case f.ExpTime < 0 || math.IsNaN(f.ExpTime) || f.ExpTime > 1e6:
		return ch, g, fmt.Errorf("exposure time %v s is not plausible", f.ExpTime)
	case f.ConparsRows < 0:
		return ch, g, fmt.Errorf("CONPARS rows %d is negative", f.ConparsRows)
	case f.Scene < SceneBias || f.Scene > SceneSpectrum:
		return ch, g, fmt.Errorf("unknown scene %v", f.Scene)
	}
	for _, s := range []string{f.TelRA, f.TelDec} {
		if _, err := parseSexagesimal(s); s != "" && err != nil {
			return ch, g, err
		}
	}
	return ch, g, nil
}

// rng returns an independent random stream for one use of the seed, so that
// adding a consumer never changes what another one draws.
func (f Frame) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(f.Seed), stream))
}

// Random streams, one per consumer.
const (
	streamBias = iota + 1
	streamStatus
	streamCosmics
	streamTelescope
	streamQuad // + quadrant index
)

// Bias returns the bias level of IM1..IM4 in ADU: about 950–1050 for the
// CCD, the four amplifiers within a few ADU of each other and all different,
// as on the real detectors. The overscan median of each quadrant is within
// about half an ADU of it.
func (f Frame) Bias() [4]float64 {
	r := f.rng(streamBias)
	base := 955 + 85*r.Float64()
	var b [4]float64
	for q, off := range [4]float64{0, 2.5, -2.5, 5} {
		b[q] = math.Round((base+off+r.Float64())*10) / 10
	}
	return b
}
