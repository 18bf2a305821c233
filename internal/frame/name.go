package frame

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A channel is any lower-case name starting with a letter, not only the four
// MODS channels, so a test dewar or a future instrument needs no code change;
// the sequence number is %04d and grows a fifth digit after 9999.
var nameRE = regexp.MustCompile(`^([a-z][a-z0-9]*)\.([0-9]{8})\.([0-9]{4,5})\.fits$`)

// Name is a raw file name, <chan>.<CCYYMMDD>.<NNNN>.fits.
type Name struct {
	Base    string // mods1b.20260119.0001.fits
	Chan    string // mods1b
	ObsDate string // 20260119, the observing date: the folder under procDir
	Seq     int
}

// ParseName checks a raw file's base name.
func ParseName(name string) (Name, error) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil {
		return Name{}, fmt.Errorf("%q is not a raw file name (want <chan>.<CCYYMMDD>.<NNNN>.fits, e.g. mods1b.20260119.0001.fits)", name)
	}
	if _, err := time.Parse("20060102", m[2]); err != nil {
		return Name{}, fmt.Errorf("%s: %s is not a date", name, m[2])
	}
	seq, _ := strconv.Atoi(m[3])
	return Name{Base: name, Chan: m[1], ObsDate: m[2], Seq: seq}, nil
}

// Upper is the channel as it appears in <CHAN>.new and the ledger's name.
func (n Name) Upper() string { return strings.ToUpper(n.Chan) }

// Layout is dataMan's directory layout (spec section 2.2).
type Layout struct {
	DataDir  string // raw files, <DataDir>/<chan>/<name>
	ProcDir  string // stored copies, <ProcDir>/<obsdate>/<name>
	RepoDir  string // dispatched copies, <RepoDir>/<name>, and <RepoDir>/<CHAN>.new
	StateDir string // the ledgers, <StateDir>/ledger/<CHAN>.ledger
}

// Raw is where the raw file is read.
func (l Layout) Raw(n Name) string { return filepath.Join(l.DataDir, n.Chan, n.Base) }

// StoreDir is the folder of the stored copy. dataman creates it with mode
// 0775 where dataMan used 0777: group members can still add files, others
// can no longer delete them.
func (l Layout) StoreDir(n Name) string { return filepath.Join(l.ProcDir, n.ObsDate) }

// Stored is where the stored copy goes when its name is free.
func (l Layout) Stored(n Name) string { return filepath.Join(l.StoreDir(n), n.Base) }

// Dispatched is where the dispatched copy goes when its name is free.
func (l Layout) Dispatched(n Name) string { return filepath.Join(l.RepoDir, n.Base) }

// LastFile is <RepoDir>/<CHAN>.new, the one line naming the file last
// delivered for the channel.
func (l Layout) LastFile(n Name) string { return filepath.Join(l.RepoDir, n.Upper()+".new") }

// uniqRE is a UNIQNAME, <instrume>.<CCYYMMDD>.<HHMMSS>.fits, with the -N a
// collision adds.
var uniqRE = regexp.MustCompile(`^[a-z][a-z0-9]*\.([0-9]{8})\.([0-9]{6})(-[0-9]+)?\.fits$`)

// UniqTime is the exposure start a UNIQNAME encodes (UTC, to the second),
// and false for a name that is not one.
func UniqTime(uniq string) (time.Time, bool) {
	m := uniqRE.FindStringSubmatch(uniq)
	if m == nil {
		return time.Time{}, false
	}
	t, err := time.Parse("20060102150405", m[1]+m[2])
	return t, err == nil
}

// RawOfNight lists the raw files of one night in every channel folder of
// DataDir, sorted; none is an error naming where it looked.
func (l Layout) RawOfNight(night string) ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(l.DataDir, "*"))
	if err != nil {
		return nil, err
	}
	return namesIn(dirs, night)
}

// StoredOfNight lists the raw-named files stored for one night, sorted;
// none is an error naming where it looked.
func (l Layout) StoredOfNight(night string) ([]string, error) {
	return namesIn([]string{filepath.Join(l.ProcDir, night)}, night)
}

// namesIn lists the regular files in dirs named like raw files of night.
func namesIn(dirs []string, night string) ([]string, error) {
	var names []string
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			return nil, fmt.Errorf("night %s: %w", night, err)
		}
		for _, e := range ents {
			if n, err := ParseName(e.Name()); err == nil && n.ObsDate == night && e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("night %s: no files in %s", night, strings.Join(dirs, ", "))
	}
	sort.Strings(names)
	return names, nil
}
