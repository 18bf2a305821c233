package condition

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Shard is task i's share of files when a list is split among n tasks (a
// job array of n tasks numbered from 0). The rule depends only on the list:
// the distinct base names are numbered in the order they first appear, and
// task i takes the names numbered i, i+n, i+2n…, each with every file of
// that name, in list order. So the tasks get shares that differ by at most
// one name, every file is in exactly one share, and files of one name (two
// nights' raw files that azcam named alike) are all in one task, which
// places them in list order: the same outputs under the same names as a
// single `dataman condition` of the whole list.
func Shard(files []string, i, n int) []string {
	number := map[string]int{}
	var share []string
	for _, f := range files {
		base := filepath.Base(f)
		k, ok := number[base]
		if !ok {
			k = len(number)
			number[base] = k
		}
		if k%n == i {
			share = append(share, f)
		}
	}
	return share
}

// MaxShards bounds N: Slurm's job arrays have at most 4,000,001 tasks.
const MaxShards = 1 << 22

// ParseShard reads "I/N", task I of N (0 ≤ I < N ≤ MaxShards).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || n > MaxShards || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want I/N with 0 ≤ I < N, e.g. 3/100 (task 3 of a 100-task array numbered from 0)", s)
	}
	return i, n, nil
}
