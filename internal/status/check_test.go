package status

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	now := time.Date(2026, 1, 19, 10, 0, 0, 0, time.UTC)
	th := Thresholds{PendingWarn: 10 * time.Minute, PendingCrit: time.Hour, MinFreeWarn: 20 << 30, MinFreeCrit: 5 << 30}
	running := Listen{Running: true, Pid: 4242, State: "IDLE", LatencySeconds: 0.8}
	space := []Space{{Key: "paths.procDir", Dir: "/home/data", Free: 100 << 30}, {Key: "paths.repoDir", Dir: "/newdata", Free: 100 << 30}}
	chans := func(c Channel) []Channel {
		if c.ByStatus == nil {
			c.ByStatus = map[string]int{}
		}
		c.Channel = "mods1b"
		return []Channel{c}
	}
	pendingFor := func(d time.Duration) Channel {
		return Channel{Frames: 1, ByStatus: map[string]int{"pending": 1},
			Pending: []Pending{{File: "mods1b.20260119.0003.fits", Reason: "newdata is full", Since: now.Add(-d)}}}
	}
	for _, tc := range []struct {
		name string
		r    Report
		code int
		text []string // in the line, before the "|"
	}{
		{"all well", Report{Listen: running, Space: space, Channels: chans(Channel{Frames: 300, ByStatus: map[string]int{"delivered": 290, "taken": 10}})},
			OK, []string{"DATAMAN OK - listen running (pid 4242, IDLE); 300 frames of 20260119: 290 delivered, 10 taken"}},
		{"listen down", Report{Space: space}, Critical, []string{"DATAMAN CRITICAL - listen not running"}},
		{"listen died", Report{Listen: Listen{Pid: 77, Stale: true}, Space: space}, Critical, []string{"listen not running (pid 77 is gone)"}},
		{"pending young", Report{Listen: running, Space: space, Channels: chans(pendingFor(time.Minute))}, OK, []string{"DATAMAN OK"}},
		{"pending warn", Report{Listen: running, Space: space, Channels: chans(pendingFor(11 * time.Minute))},
			Warning, []string{"DATAMAN WARNING - 1 dispatch pending, oldest mods1b.20260119.0003.fits for 11m0s: newdata is full"}},
		{"pending crit", Report{Listen: running, Space: space, Channels: chans(pendingFor(2 * time.Hour))}, Critical, []string{"DATAMAN CRITICAL - 1 dispatch pending"}},
		{"failed frame", Report{Listen: running, Space: space, Channels: chans(Channel{Frames: 1, ByStatus: map[string]int{"failed": 1},
			Failed: []Failed{{File: "x", Reason: "truncated"}}})}, Warning, []string{"DATAMAN WARNING - 1 failed frames"}},
		{"space warn", Report{Listen: running, Space: []Space{space[0], {Key: "paths.repoDir", Dir: "/newdata", Free: 10 << 30}}},
			Warning, []string{"paths.repoDir /newdata has 10.0 GiB free"}},
		{"space crit", Report{Listen: running, Space: []Space{{Key: "paths.procDir", Dir: "/home/data", Free: 1 << 30}, space[1]}},
			Critical, []string{"paths.procDir /home/data has 1.0 GiB free"}},
		{"space unknown", Report{Listen: running, Space: []Space{space[0], {Key: "paths.repoDir", Dir: "/newdata", Err: "statfs /newdata: stalled"}}},
			Critical, []string{"paths.repoDir: statfs /newdata: stalled"}},
		{"worst first", Report{Listen: running, Space: space, Problems: []string{"ledger: line 3 | odd\nsecond"},
			Channels: chans(Channel{ByStatus: map[string]int{"unchecked": 2}})},
			Warning, []string{"DATAMAN WARNING - 2 frames could not be checked; 1 problems: ledger: line 3 / odd second"}},
		{"critical before warning", Report{Space: space, Channels: chans(Channel{Failed: []Failed{{File: "x"}}})},
			Critical, []string{"DATAMAN CRITICAL - listen not running; 1 failed frames"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.r.Time, tc.r.Nights = now, []string{"20260119"}
			code, line := Check(tc.r, th)
			if code != tc.code {
				t.Errorf("code %d, want %d: %s", code, tc.code, line)
			}
			text, perf, ok := strings.Cut(line, " | ")
			if !ok || strings.Contains(perf, "|") || strings.Contains(line, "\n") {
				t.Fatalf("not one line of text | perfdata: %q", line)
			}
			for _, s := range tc.text {
				if !strings.Contains(text, s) {
					t.Errorf("text %q lacks %q", text, s)
				}
			}
			for _, p := range []string{"listen=", "pending=", "pending_age=", "failed=", "lost=", "frames="} {
				if !strings.Contains(perf, p) {
					t.Errorf("perfdata %q lacks %s", perf, p)
				}
			}
		})
	}
}

func TestCheckPerfdata(t *testing.T) {
	r := Report{Time: time.Now(), Listen: Listen{Running: true, LatencySeconds: 0.8125},
		Space: []Space{{Key: "paths.procDir", Free: 100}, {Key: "paths.repoDir", Err: "gone"}}}
	_, line := Check(r, Thresholds{PendingWarn: 10 * time.Minute, MinFreeCrit: 50})
	_, perf, _ := strings.Cut(line, " | ")
	for _, want := range []string{"listen=1;;;0;1", "pending_age=0s;600;;0", "latency=0.812s;;;0", "free_proc=100B;;50:;0"} {
		if !strings.Contains(" "+perf+" ", " "+want+" ") {
			t.Errorf("perfdata %q lacks %q", perf, want)
		}
	}
	if strings.Contains(perf, "free_repo") {
		t.Errorf("perfdata %q has a value for a folder it could not look at", perf)
	}
}

func TestUnknowable(t *testing.T) {
	code, line := Unknowable(errors.New("raw folder /data: permission denied\nhint: x"))
	if code != Unknown || line != "DATAMAN UNKNOWN - raw folder /data: permission denied hint: x" {
		t.Errorf("%d %q", code, line)
	}
}
