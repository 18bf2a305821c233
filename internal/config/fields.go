package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/obsdata/dataman/internal/schedule"
	"math"
	"math/big"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// field is one key. The table below is the single list of keys: the file
// walker, the environment, Set, Entries and ProcessingHash all read it.
type field struct {
	key string
	set func(c *Config, v string, src Source) error
	get func(c *Config) string
	// item checks one element of a list key, so a bad element in a YAML
	// sequence is reported on its own line; nil for scalar keys.
	item func(v string) error
	// path gives access to a path key, so Load can resolve the default's
	// relative paths; nil for other keys.
	path func(c *Config) *string
	// hashed marks the keys that change the conditioned bytes.
	hashed bool
}

var fields = []field{
	hostField("server.ipAddr", func(c *Config) *string { return &c.Server.IPAddr }),
	intField("server.ipPort", 1, 65535, func(c *Config) *int { return &c.Server.IPPort }),
	peersField("server.quitPeers", func(c *Config) *[]string { return &c.Server.QuitPeers }),
	httpField("server.http", func(c *Config) *string { return &c.Server.HTTP }),

	pathField("paths.dataDir", func(c *Config) *string { return &c.Paths.DataDir }),
	pathField("paths.procDir", func(c *Config) *string { return &c.Paths.ProcDir }),
	pathField("paths.repoDir", func(c *Config) *string { return &c.Paths.RepoDir }),
	pathField("paths.logDir", func(c *Config) *string { return &c.Paths.LogDir }),
	pathField("paths.stateDir", func(c *Config) *string { return &c.Paths.StateDir }),

	hashed(flagField("processing.fixDETSEC", func(c *Config) *bool { return &c.Processing.FixDETSEC })),
	hashed(flagField("processing.fixDateTime", func(c *Config) *bool { return &c.Processing.FixDateTime })),
	hashed(flagField("processing.fixTemps", func(c *Config) *bool { return &c.Processing.FixTemps })),
	hashed(flagField("processing.fixMisc", func(c *Config) *bool { return &c.Processing.FixMisc })),
	hashed(flagField("processing.makeOTM", func(c *Config) *bool { return &c.Processing.MakeOTM })),

	flagField("debug", func(c *Config) *bool { return &c.Debug }),
	intField("jobs", 1, 1024, func(c *Config) *int { return &c.Jobs }),
	intField("queue", 1, 1000000, func(c *Config) *int { return &c.Queue }),

	hashed(siteField("site.latitude", -90, 90, func(c *Config) *float64 { return &c.Site.Latitude })),
	hashed(siteField("site.longitude", -180, 180, func(c *Config) *float64 { return &c.Site.Longitude })),
	hashed(siteField("site.elevation", -1000, 10000, func(c *Config) *float64 { return &c.Site.Elevation })),

	policyField("delivery.proc.collision", func(c *Config) *Policy { return &c.Proc.Collision }),
	sizeField("delivery.proc.minFree", func(c *Config) *int64 { return &c.Proc.MinFree }),
	durationField("delivery.proc.timeout", 1, func(c *Config) *time.Duration { return &c.Proc.Timeout }),
	policyField("delivery.repo.collision", func(c *Config) *Policy { return &c.Repo.Collision }),
	sizeField("delivery.repo.minFree", func(c *Config) *int64 { return &c.Repo.MinFree }),
	durationField("delivery.repo.timeout", 1, func(c *Config) *time.Duration { return &c.Repo.Timeout }),
	flagField("delivery.repo.consumed", func(c *Config) *bool { return &c.Repo.Consumed }),
	durationField("delivery.retry.initial", 1, func(c *Config) *time.Duration { return &c.Retry.Initial }),
	durationField("delivery.retry.max", 1, func(c *Config) *time.Duration { return &c.Retry.Max }),

	durationField("sweep.every", 0, func(c *Config) *time.Duration { return &c.Sweep.Every }),
	durationField("sweep.minAge", 0, func(c *Config) *time.Duration { return &c.Sweep.MinAge }),
	scheduleField("sweep.schedule", func(c *Config) *string { return &c.Sweep.Schedule }),

	durationField("status.pendingWarn", 0, func(c *Config) *time.Duration { return &c.Status.PendingWarn }),
	durationField("status.pendingCrit", 0, func(c *Config) *time.Duration { return &c.Status.PendingCrit }),
	sizeField("status.minFreeWarn", func(c *Config) *int64 { return &c.Status.MinFreeWarn }),
	sizeField("status.minFreeCrit", func(c *Config) *int64 { return &c.Status.MinFreeCrit }),

	flagField("log.file", func(c *Config) *bool { return &c.Log.File }),
	flagField("preview.enabled", func(c *Config) *bool { return &c.Preview.Enabled }),
	flagField("preview.asinh", func(c *Config) *bool { return &c.Preview.Asinh }),
}

// byKey and sections are derived from fields, so the YAML shape cannot drift
// from the list of keys.
var byKey, sections = func() (map[string]*field, map[string]bool) {
	keys := make(map[string]*field, len(fields))
	secs := make(map[string]bool)
	for i := range fields {
		f := &fields[i]
		keys[f.key] = f
		for j := strings.LastIndexByte(f.key, '.'); j > 0; j = strings.LastIndexByte(f.key[:j], '.') {
			secs[f.key[:j]] = true
		}
	}
	return keys, secs
}()

func lookup(key string) *field { return byKey[key] }

// unknownKey suggests the right spelling when only the case differs, the
// likely mistake with dataMan's camelCase keys.
func unknownKey(key, value string) error {
	what := "unknown key"
	if value != "" {
		what = strconv.Quote(value) + ": unknown key"
	}
	for i := range fields {
		if strings.EqualFold(fields[i].key, key) {
			return fmt.Errorf("%s (did you mean %s?)", what, fields[i].key)
		}
	}
	for s := range sections {
		if strings.EqualFold(s, key) && s != key {
			return fmt.Errorf("%s (did you mean %s?)", what, s)
		}
	}
	return errors.New(what)
}

// ProcessingHash identifies what changes the conditioned bytes: the
// processing flags and the site, nothing else. Two runs over the same raw
// file with the same hash must give the same output, so the ledger can tell
// whether a stored file is stale.
func (c *Config) ProcessingHash() string {
	sum := sha256.Sum256([]byte(c.processingText()))
	return "sha256:" + hex.EncodeToString(sum[:])[:16]
}

// processingText is the canonical text hashed: a version line, then
// "key=value\n" for each hashed key in Entries order, values as Entries
// prints them.
func (c *Config) processingText() string {
	var b strings.Builder
	b.WriteString("dataman processing v1\n")
	for i := range fields {
		if f := &fields[i]; f.hashed {
			b.WriteString(f.key + "=" + f.get(c) + "\n")
		}
	}
	return b.String()
}

func hashed(f field) field { f.hashed = true; return f }

// quote shows a value in a message; long values are cut so a stray binary
// file does not flood the terminal.
func quote(v string) string {
	const max = 64
	if r := []rune(v); len(r) > max {
		return strconv.Quote(string(r[:max])) + "…"
	}
	return strconv.Quote(v)
}

func flagField(key string, p func(*Config) *bool) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			b, err := parseFlag(v)
			if err == nil {
				*p(c) = b
			}
			return err
		},
		get: func(c *Config) string { return formatFlag(*p(c)) },
	}
}

// parseFlag reads the value itself rather than trusting YAML's resolution:
// YAML 1.2 and PyYAML disagree on yes/no/Y/N, and dataMan's users write Y.
func parseFlag(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "y", "yes", "true", "on", "1":
		return true, nil
	case "n", "no", "false", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s is not a flag (use Y or N)", quote(v))
}

func formatFlag(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

func intField(key string, lo, hi int, p func(*Config) *int) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s is not a whole number", quote(v))
			}
			if n < lo || n > hi {
				return fmt.Errorf("%s is out of range (%d to %d)", quote(v), lo, hi)
			}
			*p(c) = n
			return nil
		},
		get: func(c *Config) string { return strconv.Itoa(*p(c)) },
	}
}

// siteField also marks the site as configured, since a partial site (say,
// only the elevation) is still the user's choice, not the LBT fallback.
func siteField(key string, lo, hi float64, p func(*Config) *float64) field {
	return field{
		key: key,
		set: func(c *Config, v string, src Source) error {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s is not a number", quote(v))
			}
			if x < lo || x > hi {
				return fmt.Errorf("%s is out of range (%g to %g)", quote(v), lo, hi)
			}
			*p(c) = x + 0 // -0 and 0 must print, and hash, the same
			if src != SourceDefault {
				c.Site.Set = true
			}
			return nil
		},
		get: func(c *Config) string { return strconv.FormatFloat(*p(c), 'f', -1, 64) },
	}
}

func pathField(key string, p func(*Config) *string) field {
	return field{
		key: key,
		set: func(c *Config, v string, src Source) error {
			if v == "" {
				return errors.New(`"" is empty (give a directory)`)
			}
			v = filepath.Clean(v)
			if src != SourceDefault {
				var err error
				if v, err = absPath(v); err != nil {
					return err
				}
			}
			*p(c) = v
			return nil
		},
		get:  func(c *Config) string { return *p(c) },
		path: p,
	}
}

func absPath(v string) (string, error) {
	abs, err := filepath.Abs(v)
	if err != nil {
		return "", fmt.Errorf("%s cannot be made absolute: %w", quote(v), err)
	}
	return abs, nil
}

func hostField(key string, p func(*Config) *string) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			if v == "" {
				return errors.New(`"" is empty (use 0.0.0.0 to listen on every interface)`)
			}
			if _, err := netip.ParseAddr(v); err != nil && !isHostName(v) {
				return fmt.Errorf("%s is not an IP address or host name", quote(v))
			}
			*p(c) = v
			return nil
		},
		get: func(c *Config) string { return *p(c) },
	}
}

// httpField is an optional TCP address to serve HTTP on: "" (off) or
// host:port, with a host, since an empty host would bind every interface.
func httpField(key string, p func(*Config) *string) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			if err := CheckHTTPAddr(v); err != nil {
				return err
			}
			*p(c) = v
			return nil
		},
		get: func(c *Config) string { return *p(c) },
	}
}

// CheckHTTPAddr accepts "" (no HTTP server) or HOST:PORT with a host and a
// port in 0..65535.
func CheckHTTPAddr(v string) error {
	if v == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("%s is not HOST:PORT", quote(v))
	}
	if host == "" {
		return fmt.Errorf("%s has no host (use 127.0.0.1:PORT, or 0.0.0.0:PORT for every interface)", quote(v))
	}
	if _, err := netip.ParseAddr(host); err != nil && !isHostName(host) {
		return fmt.Errorf("%s: %s is not an IP address or host name", quote(v), quote(host))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("%s: bad port", quote(v))
	}
	return nil
}

// isHostName accepts what dataMan's Python bind() would resolve: dotted
// labels of letters, digits and hyphens (RFC 1123). An all-digit last label
// is refused, as it is a mistyped IPv4 address, never a name.
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 || allDigits(s[strings.LastIndexByte(s, '.')+1:]) {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// peersField is a list: a YAML sequence in the file, comma-separated in the
// environment and on the command line. An empty list lets nobody send quit.
func peersField(key string, p func(*Config) *[]string) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			var peers []string
			if v != "" {
				for item := range strings.SplitSeq(v, ",") {
					a, err := parsePeer(strings.TrimSpace(item))
					if err != nil {
						return err
					}
					peers = append(peers, a)
				}
			}
			*p(c) = peers
			return nil
		},
		get: func(c *Config) string { return strings.Join(*p(c), ",") },
		item: func(v string) error {
			_, err := parsePeer(v)
			return err
		},
	}
}

// parsePeer normalises the address so the listener can compare it with a
// datagram's source as a string.
func parsePeer(v string) (string, error) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		return "", fmt.Errorf("%s is not an IP address", quote(v))
	}
	return a.String(), nil
}

func policyField(key string, p func(*Config) *Policy) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			switch pol := Policy(strings.ToLower(v)); pol {
			case PolicyRename, PolicyError, PolicyOverwrite:
				*p(c) = pol
				return nil
			}
			return fmt.Errorf("%s is not a collision policy (use rename, error or overwrite)", quote(v))
		},
		get: func(c *Config) string { return string(*p(c)) },
	}
}

func durationField(key string, lo time.Duration, p func(*Config) *time.Duration) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s is not a duration (like 30s, 5m or 1h30m)", quote(v))
			}
			if d < lo {
				if lo == 0 {
					return fmt.Errorf("%s is negative", quote(v))
				}
				return fmt.Errorf("%s is not positive", quote(v))
			}
			*p(c) = d
			return nil
		},
		get: func(c *Config) string { return formatDuration(*p(c)) },
	}
}

// formatDuration drops the zero tails time.Duration.String adds, so the
// default prints as the 5m it was written as, not 5m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func sizeField(key string, p func(*Config) *int64) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			*p(c) = n
			return nil
		},
		get: func(c *Config) string { return formatSize(*p(c)) },
	}
}

type sizeUnit struct {
	name  string
	bytes int64
}

// sizeUnits runs from large to small so formatSize picks the unit giving the
// smallest exact number. A bare "G" is refused: people mean both 10^9 and
// 2^30 by it.
var sizeUnits = []sizeUnit{
	{"TiB", 1 << 40}, {"TB", 1e12}, {"GiB", 1 << 30}, {"GB", 1e9},
	{"MiB", 1 << 20}, {"MB", 1e6}, {"KiB", 1 << 10}, {"kB", 1e3},
	{"B", 1},
}

// parseSize reads a byte count such as 0, 1048576, 500MB, 1.5 GiB. Decimals
// are exact (big.Rat), so 0.1KB is 100 bytes and never 99.
func parseSize(v string) (int64, error) {
	bad := func() (int64, error) {
		return 0, fmt.Errorf("%s is not a size (like 500MB, 2GiB or 0)", quote(v))
	}
	num := strings.TrimRight(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	unit := int64(1)
	if name := v[len(num):]; name != "" {
		i := unitIndex(name)
		if i < 0 {
			return bad()
		}
		unit = sizeUnits[i].bytes
	}
	num = strings.TrimSuffix(num, " ")
	if !isDecimal(num) {
		return bad()
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return bad()
	}
	r.Mul(r, new(big.Rat).SetInt64(unit))
	if !r.IsInt() {
		return 0, fmt.Errorf("%s is not a whole number of bytes", quote(v))
	}
	if !r.Num().IsInt64() {
		return 0, fmt.Errorf("%s is too large", quote(v))
	}
	return r.Num().Int64(), nil
}

func unitIndex(name string) int {
	for i, u := range sizeUnits {
		if strings.EqualFold(u.name, name) {
			return i
		}
	}
	return -1
}

// isDecimal accepts digits with at most one decimal point between digits,
// which keeps out the signs, exponents and fractions big.Rat would take.
func isDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	return allDigits(whole) && (!dot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func formatSize(n int64) string {
	if n == 0 {
		return "0"
	}
	for _, u := range sizeUnits {
		if u.bytes > 1 && n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// scheduleField checks the spec with the same standard cron parser the sweep
// scheduler is expected to use, so a typo fails at start-up, not at the
// first tick.
func scheduleField(key string, p func(*Config) *string) field {
	return field{
		key: key,
		set: func(c *Config, v string, _ Source) error {
			if v != "" {
				if err := parseSchedule(v); err != nil {
					return fmt.Errorf("%s is not a cron schedule (like \"*/15 * * * *\" or \"@hourly\"): %v", quote(v), err)
				}
			}
			*p(c) = v
			return nil
		},
		get: func(c *Config) string { return *p(c) },
	}
}

// parseSchedule checks a spec with the sweep's own parser.
func parseSchedule(v string) error {
	_, err := schedule.Parse(v)
	return err
}
