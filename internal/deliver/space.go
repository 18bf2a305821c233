package deliver

import (
	"fmt"
	"math"
	"syscall"

	"golang.org/x/sys/unix"
)

// checkSpace refuses to start writing size bytes to dir if that would leave
// less than minFree bytes free, like CFHT's disk_limit. The error wraps
// ENOSPC, so it is handled like a full disk.
func (d *Deliverer) checkSpace(dir string, size, minFree int64) error {
	if minFree <= 0 {
		return nil
	}
	if err := d.inject("statfs", dir); err != nil {
		return err
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", dir, err)
	}
	free := int64(math.MaxInt64)
	if avail := uint64(st.Bavail) * uint64(st.Bsize); avail < math.MaxInt64 {
		free = int64(avail)
	}
	if free-size < minFree {
		return fmt.Errorf("%s: %w (need %s + %s free, have %s)", dir, syscall.ENOSPC, human(size), human(minFree), human(free))
	}
	return nil
}

// human writes sizes the way people configure them: 1 GiB for a round
// binary size, 154 MB for a file.
func human(n int64) string {
	const (
		miB = 1 << 20
		giB = 1 << 30
		tiB = 1 << 40
	)
	for _, u := range []struct {
		size int64
		name string
	}{{tiB, "TiB"}, {giB, "GiB"}, {miB, "MiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	f := float64(n)
	for _, u := range []struct {
		size float64
		name string
	}{{1e12, "TB"}, {1e9, "GB"}, {1e6, "MB"}, {1e3, "kB"}} {
		if f >= u.size {
			v := f / u.size
			if v < 10 {
				return fmt.Sprintf("%.1f %s", v, u.name)
			}
			return fmt.Sprintf("%.0f %s", v, u.name)
		}
	}
	return fmt.Sprintf("%d B", n)
}
