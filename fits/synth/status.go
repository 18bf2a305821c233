package synth

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
)

// statusWidth is the width of both CONPARS columns (20A): azcam truncates
// longer keys and values.
const statusWidth = 20

// StatusEntry is one KEY=VALUE token of the Archon STATUS reply, one CONPARS
// row.
type StatusEntry struct{ Key, Value string }

// dataManKeys are the rows dataMan reads (fixArchonTemps); a short table
// keeps them ahead of the rest.
var dataManKeys = []string{"BACKPLANE_TEMP", "MOD10/TEMPA", "MOD10/TEMPB"}

// Conpars returns the CONPARS rows in reply order: the Archon's system
// entries, then each module's, with the heater board in slot 10 reporting
// the CCD and mount-base temperatures (TEMPA is the base sensor on MODS1 and
// the CCD on MODS2). A table shorter than the full reply keeps dataMan's
// keys and the first others, still in reply order. Frame.Status values are
// then applied.
func (f Frame) Conpars() ([]StatusEntry, error) {
	ch, err := f.channel()
	if err != nil {
		return nil, err
	}
	all := archonStatus(f.rng(streamStatus), ch.mods1)
	n := f.ConparsRows
	if n == 0 {
		n = defaultConparsRows
	}
	if n > len(all) {
		return nil, fmt.Errorf("CONPARS rows %d: the simulated Archon reports at most %d", n, len(all))
	}
	keep := make([]bool, len(all))
	left := n
	for i, e := range all {
		if left > 0 && slices.Contains(dataManKeys, e.Key) {
			keep[i] = true
			left--
		}
	}
	for i := range all {
		if left > 0 && !keep[i] {
			keep[i] = true
			left--
		}
	}
	rows := make([]StatusEntry, 0, n+len(f.Status))
	for i, e := range all {
		if keep[i] {
			rows = append(rows, e)
		}
	}
	extra := make([]string, 0, len(f.Status))
	for k, v := range f.Status {
		if i := slices.IndexFunc(rows, func(e StatusEntry) bool { return e.Key == k }); i >= 0 {
			rows[i].Value = v
			continue
		}
		extra = append(extra, k)
	}
	slices.Sort(extra) // map order is random; files must not be
	for _, k := range extra {
		rows = append(rows, StatusEntry{k, f.Status[k]})
	}
	return rows, nil
}

// archonStatus simulates a full STATUS reply of a MODS Archon.
func archonStatus(r *rand.Rand, mods1 bool) []StatusEntry {
	var out []StatusEntry
	add := func(k, format string, v any) { out = append(out, StatusEntry{k, fmt.Sprintf(format, v)}) }
	near := func(v, d float64) float64 { return v + d*(2*r.Float64()-1) }

	add("VALID", "%d", 1)
	add("COUNT", "%d", 180000+r.IntN(900000))
	add("LOG", "%d", 0)
	add("POWER", "%d", 4)
	add("POWERGOOD", "%d", 1)
	add("OVERHEAT", "%d", 0)
	// The backplane sensor resolves 1/16 °C.
	add("BACKPLANE_TEMP", "%.3f", float64(int(near(31.25, 1.5)*16))/16)
	for _, s := range []struct {
		name  string
		v, mA float64
	}{{"P2V5", 2.5, 480}, {"P5V", 5.0, 1650}, {"P6V", 6.0, 820}, {"N6V", -6.0, 790},
		{"P17V", 17.0, 210}, {"N17V", -17.0, 195}, {"P35V", 35.0, 40}, {"N35V", -35.0, 12},
		{"P100V", 100.0, 3}, {"N100V", -100.0, 2}, {"USER", 0, 0}, {"HEATER", 30.0, 95}} {
		add(s.name+"_V", "%.3f", near(s.v, 0.01+0.002*math.Abs(s.v)))
		add(s.name+"_I", "%.3f", near(s.mA, 0.02*s.mA+0.5)/1000)
	}
	add("FANTACH", "%d", 2400+r.IntN(120))

	// A plausible backplane: clock drivers, ADCs, bias boards and the
	// HeaterX board in slot 10 that dataMan reads.
	for _, m := range []struct {
		slot int
		kind string
	}{{1, "driver"}, {2, "driver"}, {3, "lvbias"}, {4, "hvbias"}, {5, "adc"}, {6, "adc"},
		{8, "lvbias"}, {10, "heater"}, {11, "xvbias"}} {
		p := fmt.Sprintf("MOD%d/", m.slot)
		add(p+"TEMP", "%.3f", near(36, 4))
		switch m.kind {
		case "lvbias":
			for i := 1; i <= 24; i++ {
				add(fmt.Sprintf("%sLVLC_V%d", p, i), "%.3f", near(float64(i%5)*2.5-5, 0.005))
				add(fmt.Sprintf("%sLVLC_I%d", p, i), "%.3f", near(0.2, 0.2))
			}
			for i := 1; i <= 6; i++ {
				add(fmt.Sprintf("%sLVHC_V%d", p, i), "%.3f", near(float64(i)*2, 0.005))
				add(fmt.Sprintf("%sLVHC_I%d", p, i), "%.3f", near(12, 3))
			}
		case "hvbias":
			for i := 1; i <= 24; i++ {
				add(fmt.Sprintf("%sHVLC_V%d", p, i), "%.3f", near(float64(i%4)*5, 0.01))
			}
			for i := 1; i <= 6; i++ {
				add(fmt.Sprintf("%sHVHC_V%d", p, i), "%.3f", near(float64(14+2*i), 0.01))
				add(fmt.Sprintf("%sHVHC_I%d", p, i), "%.3f", near(1.5, 0.5))
			}
		case "heater":
			ccd, base := near(-106, 0.05), near(-118, 0.3)
			a, b := ccd, base
			if mods1 {
				a, b = base, ccd
			}
			add(p+"TEMPA", "%.3f", a)
			add(p+"TEMPB", "%.3f", b)
			add(p+"TEMPC", "%.3f", near(-172, 2))
			add(p+"HEATERAOUTPUT", "%.3f", near(3.1, 0.4))
			add(p+"HEATERBOUTPUT", "%.3f", near(0.0, 0))
			for _, k := range []string{"HEATERAP", "HEATERAI", "HEATERAD", "HEATERBP", "HEATERBI", "HEATERBD"} {
				add(p+k, "%.3f", near(0.5, 0.5))
			}
			add(p+"DINPUTS", "%s", "00000000")
		case "xvbias":
			for i := 1; i <= 4; i++ {
				add(fmt.Sprintf("%sXVP_V%d", p, i), "%.3f", near(float64(20+i), 0.01))
				add(fmt.Sprintf("%sXVN_V%d", p, i), "%.3f", near(-float64(5+i), 0.01))
				add(fmt.Sprintf("%sXVP_I%d", p, i), "%.3f", near(0.8, 0.3))
				add(fmt.Sprintf("%sXVN_I%d", p, i), "%.3f", near(0.4, 0.2))
			}
		}
	}
	return out
}

// writeStatus writes the table rows as astropy does: ASCII padded with NUL
// bytes to the column width, longer text truncated.
func writeStatus(w io.Writer, rows []StatusEntry) error {
	buf := make([]byte, 2*statusWidth*len(rows))
	for i, e := range rows {
		copy(buf[2*statusWidth*i:2*statusWidth*i+statusWidth], e.Key)
		copy(buf[2*statusWidth*i+statusWidth:2*statusWidth*(i+1)], e.Value)
	}
	_, err := w.Write(buf)
	return err
}
