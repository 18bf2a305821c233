package verify

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestWorse(t *testing.T) {
	tests := []struct {
		a, b, want Status
	}{
		{0, 0, OK},
		{0, Extra, Extra},
		{OK, OK, OK},
		{OK, Missing, Missing},
		{Missing, OK, Missing},
		{Extra, Missing, Missing},
		{Missing, Differs, Differs},
		{Differs, Missing, Differs},
		{Differs, Error, Error},
		{Error, Differs, Error},
		{Error, OK, Error},
	}
	for _, tt := range tests {
		if got := Worse(tt.a, tt.b); got != tt.want {
			t.Errorf("Worse(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestFlagKeepsTheWorstStatus(t *testing.T) {
	r := Result{File: "f", Status: OK}
	r.Flag(Missing, "no %s", "copy")
	r.Flag(Extra, "extra")
	if r.Status != Missing || r.OK() {
		t.Fatalf("status %q after missing then extra, want -", r.Status)
	}
	if got := strings.Join(r.Problems, "|"); got != "no copy|extra" {
		t.Errorf("problems %q", got)
	}
}

func TestResultJSON(t *testing.T) {
	r := Result{File: "mods1b.20260119.0001.fits", Status: OK}
	r.Flag(Differs, "stored copy: bad")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["status"] != "*" || got["state"] != "differs" || got["file"] != r.File {
		t.Errorf("JSON %s: want status *, state differs and the file", b)
	}
	if _, ok := got["before"]; ok {
		t.Errorf("JSON %s has before for a result no repair touched", b)
	}
	r.Before = Missing
	b, _ = json.Marshal(r)
	if !strings.Contains(string(b), `"before":"-"`) {
		t.Errorf("JSON %s lacks before", b)
	}
}
