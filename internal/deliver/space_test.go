package deliver

import "testing"

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{
		154_653_120: "155 MB",
		1 << 30:     "1 GiB",
		30_000_000:  "30 MB",
		5_500_000:   "5.5 MB",
		3 << 20:     "3 MiB",
		512:         "512 B",
		0:           "0 B",
	} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}
