package schedule

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	// Without a time zone a schedule runs on the local clock.
	local := time.Date(2026, 1, 19, 10, 7, 30, 0, time.Local)
	at := func(h, m, s int) time.Time { return time.Date(2026, 1, 19, h, m, s, 0, time.Local) }
	fromUTC := time.Date(2026, 1, 19, 10, 7, 30, 0, time.UTC)
	good := []struct {
		spec       string
		from, next time.Time
	}{
		{"*/15 * * * *", local, at(10, 15, 0)},
		{"30 */5 * * * *", local, at(10, 10, 30)}, // with seconds
		{"@hourly", local, at(11, 0, 0)},
		{"@every 10m", local, local.Add(10 * time.Minute)},
		{"@every 1s", local, local.Add(time.Second)},
		{"CRON_TZ=America/Phoenix 0 18 * * *", fromUTC, time.Date(2026, 1, 20, 1, 0, 0, 0, time.UTC)},
		{"TZ=UTC 0 12 * * MON-FRI", fromUTC, time.Date(2026, 1, 19, 12, 0, 0, 0, time.UTC)},
		{"CRON_TZ=UTC @daily", fromUTC, time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range good {
		s, err := Parse(c.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.spec, err)
			continue
		}
		if next := s.Next(c.from); !next.Equal(c.next) {
			t.Errorf("%q: next after %s is %s, want %s", c.spec, c.from, next, c.next)
		}
	}
	bad := []string{
		"",
		"TZ=0",        // robfig/cron v3.0.1 panics on these two
		"CRON_TZ=UTC", //
		"TZ=",
		"CRON_TZ=Nowhere/Land * * * * *",
		"* * *",
		"* * * * * * *",
		"61 * * * *",
		"* 24 * * *",
		"0 0 30 2 *", // never fires
		"@yearlyish",
		"@every",
		"@every 10",
		"@every 0s",
		"@every -5m",
		"@every 500ms",
		"every 10m",
	}
	for _, spec := range bad {
		_, err := Parse(spec)
		if err == nil {
			t.Errorf("Parse(%q) accepted", spec)
			continue
		}
		if !strings.Contains(err.Error(), `"`+spec+`"`) {
			t.Errorf("Parse(%q): error %q does not name the spec", spec, err)
		}
	}
}

// No spec makes ParseSchedule panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"TZ=0", "CRON_TZ=UTC 0 * * * *", "@every 1h", "*/5 1-3 * JAN,FEB SUN", "TZ= ", "@every 1s x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if (s == nil) == (err == nil) {
			t.Fatalf("Parse(%q) = %v, %v", spec, s, err)
		}
	})
}
