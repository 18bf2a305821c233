package judge

import (
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

var now = time.Date(2026, 1, 20, 12, 0, 0, 0, time.UTC)

const (
	sumA = "aaaa"
	sumB = "bbbb"
)

// delivered is a frame whose raw file and copies are as the ledger says.
func delivered() Frame {
	n, _ := frame.ParseName("mods1b.20260119.0007.fits")
	steps := map[string]ledger.Event{
		ledger.StepCondition: {Step: ledger.StepCondition, Status: ledger.StatusOK, RawSHA256: "r1", RawSize: 600, RawMTime: 100},
		ledger.StepStore:     {Step: ledger.StepStore, Status: ledger.StatusOK, Dest: "/p/x", OutSHA256: sumA, OutSize: 1700, MTime: 200},
		ledger.StepDispatch:  {Step: ledger.StepDispatch, Status: ledger.StatusOK, Dest: "/r/x", OutSHA256: sumA, OutSize: 1700, MTime: 300},
	}
	return Frame{
		Name:     n,
		Raw:      Raw{Path: "/d/x", State: RawPresent, Size: 600, MTime: 100},
		History:  ledger.FileHistory{Generations: []ledger.Generation{{RawSHA256: "r1", RawSize: 600, RawMTime: 100, Steps: steps}}},
		Identity: Same,
		Steps:    steps,
		Stored:   JudgeCopy(steps[ledger.StepStore], Seen{Exists: true, Regular: true, Size: 1700, MTime: 200}, "stored"),
		Newdata:  JudgeNewdata(steps[ledger.StepDispatch], Seen{Exists: true, Regular: true, Size: 1700, MTime: 300}, steps[ledger.StepStore], true),
	}
}

func TestDecide(t *testing.T) {
	x := Facts{Now: now, Retry: DefaultRetry, Consumed: true}
	cases := []struct {
		name   string
		change func(*Frame, *Facts)
		need   Need
		status string
	}{
		{"delivered", func(*Frame, *Facts) {}, Nothing, "delivered"},
		{"taken by the archive", func(f *Frame, _ *Facts) {
			f.Newdata = JudgeNewdata(f.Steps[ledger.StepDispatch], Seen{}, f.Steps[ledger.StepStore], true)
		}, Nothing, "taken"},
		{"taken, asked again", func(f *Frame, x *Facts) {
			f.Newdata = JudgeNewdata(f.Steps[ledger.StepDispatch], Seen{}, f.Steps[ledger.StepStore], true)
			x.Redeliver = true
		}, Dispatch, "taken"},
		{"gone without a consumer", func(f *Frame, _ *Facts) {
			f.Newdata = JudgeNewdata(f.Steps[ledger.StepDispatch], Seen{}, f.Steps[ledger.StepStore], false)
		}, Dispatch, "stored"},
		{"newdata damaged", func(f *Frame, _ *Facts) {
			f.Newdata = JudgeNewdata(f.Steps[ledger.StepDispatch], Seen{Exists: true, Regular: true, Size: 12, MTime: 9}, f.Steps[ledger.StepStore], true)
		}, Redispatch, "stored"},
		{"stored copy restamped", func(f *Frame, _ *Facts) {
			f.Stored = JudgeCopy(f.Steps[ledger.StepStore], Seen{Exists: true, Regular: true, Size: 1700, MTime: 999, SHA256: sumA}, "stored")
		}, Record, "delivered"},
		{"stored copy fails its checksum", func(f *Frame, _ *Facts) {
			f.Stored = JudgeCopy(f.Steps[ledger.StepStore], Seen{Exists: true, Regular: true, Size: 1700, MTime: 999, SHA256: sumB}, "stored")
		}, Condition, "new"},
		{"stored copy changed, not read", func(f *Frame, _ *Facts) {
			f.Stored = JudgeCopy(f.Steps[ledger.StepStore], Seen{Exists: true, Regular: true, Size: 1700, MTime: 999}, "stored")
		}, Look, "unchecked"},
		{"a new exposure", func(f *Frame, _ *Facts) {
			f.Identity, f.Steps = NewExposure, map[string]ledger.Event{}
			f.Stored, f.Newdata = Copy{State: None}, Copy{State: None}
		}, Condition, "new"},
		{"young", func(f *Frame, x *Facts) {
			f.Identity, f.Steps, f.History = Unknown, map[string]ledger.Event{}, ledger.FileHistory{}
			f.Stored, f.Newdata = Copy{State: None}, Copy{State: None}
			f.Raw.MTime = now.Add(-10 * time.Second).UnixNano()
			x.MinAge = 30 * time.Second
		}, Wait, "young"},
		{"failed, not due", func(f *Frame, _ *Facts) {
			f.Steps = map[string]ledger.Event{ledger.StepCondition: {Status: ledger.StatusFailed, Reason: "truncated", Attempt: 1, Time: now.Add(-time.Minute)}}
			f.Stored, f.Newdata = Copy{State: None}, Copy{State: None}
		}, Wait, "failed"},
		{"failed, due", func(f *Frame, _ *Facts) {
			f.Steps = map[string]ledger.Event{ledger.StepCondition: {Status: ledger.StatusFailed, Reason: "truncated", Attempt: 2, Time: now.Add(-time.Hour)}}
			f.Stored, f.Newdata = Copy{State: None}, Copy{State: None}
		}, Condition, "failed"},
		{"failed three times: left until it changes", func(f *Frame, _ *Facts) {
			f.Steps = map[string]ledger.Event{ledger.StepCondition: {Status: ledger.StatusFailed, Reason: "truncated", Attempt: 3, Time: now.Add(-48 * time.Hour)}}
			f.Stored, f.Newdata = Copy{State: None}, Copy{State: None}
		}, Wait, "failed"},
		{"raw refused", func(f *Frame, _ *Facts) { f.Raw.State, f.Raw.Why = RawRefused, "a FIFO" }, Refuse, "refused"},
		{"raw gone, copies sound", func(f *Frame, _ *Facts) { f.Raw.State, f.Identity = RawGone, NoRaw }, Nothing, "delivered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, facts := delivered(), x
			c.change(&f, &facts)
			Decide(&f, facts)
			if f.Need != c.need || f.Status() != c.status {
				t.Fatalf("need %s, status %s (%s); want %s, %s", f.Need, f.Status(), f.Why, c.need, c.status)
			}
		})
	}
}

func TestIdentify(t *testing.T) {
	gen := func(sum string, size, mtime int64) ledger.Generation {
		return ledger.Generation{RawSHA256: sum, RawSize: size, RawMTime: mtime}
	}
	h := ledger.FileHistory{Generations: []ledger.Generation{gen("r1", 600, 100), gen("r2", 600, 200)}, Current: 1}
	cases := []struct {
		name string
		raw  Raw
		h    ledger.FileHistory
		gen  int
		id   Identity
	}{
		{"as recorded", Raw{State: RawPresent, Size: 600, MTime: 200}, h, 1, Same},
		{"another size: a new exposure, not read", Raw{State: RawPresent, Size: 700, MTime: 200}, h, -1, NewExposure},
		{"same size, new mtime: read it", Raw{State: RawPresent, Size: 600, MTime: 300}, h, 1, NeedHash},
		{"read: the current content, touched", Raw{State: RawPresent, Size: 600, MTime: 300, SHA256: "r2"}, h, 1, RawRestamp},
		{"read: the earlier exposure back", Raw{State: RawPresent, Size: 600, MTime: 100, SHA256: "r1"}, h, 0, Same},
		{"read: another content", Raw{State: RawPresent, Size: 600, MTime: 300, SHA256: "r3"}, h, -1, NewExposure},
		{"nothing recorded", Raw{State: RawPresent, Size: 600}, ledger.FileHistory{}, -1, Unknown},
		{"an older ledger recorded no mtime: read it", Raw{State: RawPresent, Size: 600, MTime: 5},
			ledger.FileHistory{Generations: []ledger.Generation{gen("r1", 600, 0)}}, 0, NeedHash},
		{"no mtime, read: the content conditioned", Raw{State: RawPresent, Size: 600, MTime: 5, SHA256: "r1"},
			ledger.FileHistory{Generations: []ledger.Generation{gen("r1", 600, 0)}}, 0, RawRestamp},
		{"no mtime, read: another exposure", Raw{State: RawPresent, Size: 600, MTime: 5, SHA256: "r9"},
			ledger.FileHistory{Generations: []ledger.Generation{gen("r1", 600, 0)}}, -1, NewExposure},
		{"nothing recorded but the size", Raw{State: RawPresent, Size: 600, MTime: 5},
			ledger.FileHistory{Generations: []ledger.Generation{gen("", 600, 0)}}, 0, Same},
		{"gone", Raw{State: RawGone}, h, 1, NoRaw},
	}
	for _, c := range cases {
		if g, id := Identify(c.raw, c.h); g != c.gen || id != c.id {
			t.Errorf("%s: %d %s, want %d %s", c.name, g, id, c.gen, c.id)
		}
	}
}
