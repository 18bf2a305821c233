package schedule

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	// CRON_TZ=America/Phoenix must work on a server without the tzdata
	// package, and a schedule that fails only there would be found late.
	_ "time/tzdata"
)

// scheduleParser accepts what crontab and systemd users write: five
// fields, or six with seconds first, descriptors (@hourly, @every 10m) and a
// CRON_TZ= (or TZ=) prefix. Without a prefix the schedule is in local time.
var scheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse checks a cron schedule. robfig/cron v3.0.1 panics on some
// specs (a time-zone prefix with nothing after it, "TZ=0"), and a schedule
// that can never fire (February 30) parses fine; both are errors here, so
// that a bad schedule is caught before the first sweep, not at 3 a.m.
func Parse(spec string) (sched cron.Schedule, err error) {
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("schedule %q: not a cron schedule", spec)
		}
	}()
	sched, err = scheduleParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	// cron rounds any interval below a second, even a negative one, up to
	// a second: a typo would sweep every second.
	if _, every, ok := strings.Cut(spec, "@every "); ok {
		if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d < time.Second {
			return nil, fmt.Errorf("schedule %q: the interval must be at least 1s", spec)
		}
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("schedule %q: never fires", spec)
	}
	return sched, nil
}
