package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config is dataman's whole configuration. The YAML key of each field is in
// the comment beside it; Entries lists them all.
type Config struct {
	Server     Server
	Paths      Paths
	Processing Processing
	Debug      bool // debug
	Jobs       int  // jobs: files conditioned at once
	Queue      int  // queue: requests waiting for a worker
	Site       Site
	Proc       Destination // delivery.proc
	Repo       Destination // delivery.repo
	Retry      Retry       // delivery.retry
	Sweep      Sweep
	Status     Status
	Log        Log
	Preview    Preview

	sources map[string]Source
	file    string
	derived map[string]string // for a derived value, what it was derived from
}

// Server is the UDP listener.
type Server struct {
	IPAddr    string   // server.ipAddr: IP address or host name to listen on
	IPPort    int      // server.ipPort
	QuitPeers []string // server.quitPeers: IP addresses allowed to send "quit"
	HTTP      string   // server.http: HOST:PORT of listen's /metrics, /healthz and night log; "": none
}

// Paths are absolute once loaded, except in Default.
type Paths struct {
	DataDir  string // paths.dataDir: raw files, in <dataDir>/<chan>/
	ProcDir  string // paths.procDir: conditioned files, in <procDir>/<obsdate>/
	RepoDir  string // paths.repoDir: staging area ("/newdata") and <CHAN>.new
	LogDir   string // paths.logDir
	StateDir string // paths.stateDir: ledger, lock and control files (local disk)
}

// Processing switches the conditioning steps.
type Processing struct {
	FixDETSEC   bool // processing.fixDETSEC
	FixDateTime bool // processing.fixDateTime
	FixTemps    bool // processing.fixTemps
	FixMisc     bool // processing.fixMisc
	MakeOTM     bool // processing.makeOTM
}

// Site is the observatory, used when a header lacks LATITUDE, LONGITUD or
// ELEVATIO. It defaults to LBT.
type Site struct {
	Latitude  float64 // site.latitude: degrees north
	Longitude float64 // site.longitude: degrees WEST, positive, like LONGITUD
	Elevation float64 // site.elevation: metres
	// Set is true when any site key was given by a file, the environment or a
	// flag, so a caller can tell a configured site from the LBT fallback.
	Set bool
}

// Destination says how files are delivered to one place (delivery.proc or
// delivery.repo).
type Destination struct {
	Collision Policy        // <dest>.collision
	MinFree   int64         // <dest>.minFree: bytes; 0 turns the check off
	Timeout   time.Duration // <dest>.timeout: for each file operation
	// Consumed (delivery.repo.consumed only): a consumer, the archive,
	// takes the copies away, so a delivered copy that is gone was taken and
	// is not sent again unless asked (--redeliver).
	Consumed bool
}

// Retry is the back-off for failed deliveries: Initial, doubling up to Max.
type Retry struct {
	Initial time.Duration // delivery.retry.initial
	Max     time.Duration // delivery.retry.max
}

// Sweep is the reconciliation of raw, stored and staged files.
type Sweep struct {
	Every    time.Duration // sweep.every: period of the sweep inside listen; 0 = never
	MinAge   time.Duration // sweep.minAge: younger raw files are left to the datagrams
	Schedule string        // sweep.schedule: standard 5-field cron spec; "" = none
}

// Status is the thresholds of dataman status --check: past a Warn value
// the check says WARNING, past a Crit value CRITICAL; 0 turns one off.
type Status struct {
	PendingWarn time.Duration // status.pendingWarn: a dispatch pending for longer
	PendingCrit time.Duration // status.pendingCrit
	MinFreeWarn int64         // status.minFreeWarn: bytes free on procDir or repoDir, fewer
	MinFreeCrit int64         // status.minFreeCrit
}

// Preview switches the quick-look PNGs drawn beside each stored copy.
type Preview struct {
	Enabled bool // preview.enabled: <stored>.png and <stored>.thumb.png after delivery
	Asinh   bool // preview.asinh: an asinh stretch after the zscale limits
}

// Log is the optional dataMan-style log file.
type Log struct {
	File bool // log.file: also write <logDir>/<host>dm.<date>.txt
}

// Policy says what to do when a different file already has the name being
// delivered. Identical content is never a collision.
type Policy string

const (
	PolicyRename    Policy = "rename"    // deliver under the UNIQNAME, then -2, -3…
	PolicyError     Policy = "error"     // fail the delivery
	PolicyOverwrite Policy = "overwrite" // replace the file that is there
)

// Source is where a value came from. Each source overrides the ones before it
// in this list; SourceSystemd and SourceDerived are for paths.stateDir only,
// and exclude each other.
type Source string

const (
	SourceDefault Source = "default"
	SourceSystemd Source = "systemd" // $STATE_DIRECTORY
	SourceDerived Source = "derived" // from the config file's name and path
	SourceFile    Source = "file"
	SourceEnv     Source = "env"
	SourceFlag    Source = "flag"
)

func (s Source) rank() int {
	switch s {
	case SourceDefault:
		return 1
	case SourceSystemd, SourceDerived:
		return 2
	case SourceFile:
		return 3
	case SourceEnv:
		return 4
	case SourceFlag:
		return 5
	}
	return 0
}

// Entry is one key as `dataman config` shows it.
type Entry struct {
	Key    string // dotted YAML key, e.g. "paths.repoDir"
	Value  string // in a form Set accepts back
	Source Source // "" for a key never set
}

// EnvConfig names the configuration file when Load is given no path.
const EnvConfig = "DATAMAN_CONFIG"

// FallbackDir is where dataMan looked for a relative configuration file name
// that does not exist in the working directory; Load does the same.
var FallbackDir = "/home/dts/Config"

// maxFileSize keeps a mistaken --config pointing at a FITS file from being
// read whole; a real configuration is a few kilobytes.
const maxFileSize = 1 << 20

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the commented YAML document that Default parses.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// builtin is parsed once; a broken default.yaml is a programming error that
// every test of this package trips over.
var builtin = sync.OnceValue(func() *Config {
	c := new(Config)
	if err := c.applyYAML("default.yaml", defaultYAML, SourceDefault); err != nil {
		panic(err)
	}
	for _, f := range fields {
		if c.sources[f.key] != SourceDefault {
			panic("config: default.yaml does not set " + f.key)
		}
	}
	return c
})

// Default returns the built-in configuration, parsed from DefaultYAML. Its
// paths are relative to the working directory; Load makes them absolute.
func Default() *Config { return builtin().clone() }

func (c *Config) clone() *Config {
	d := *c
	d.Server.QuitPeers = slices.Clone(c.Server.QuitPeers)
	d.sources = maps.Clone(c.sources)
	d.derived = maps.Clone(c.derived)
	return &d
}

// Load returns the default configuration overridden by the file at path and
// then by the environment, which env looks up like os.LookupEnv. Where
// neither gives paths.stateDir, it is derived (see deriveStateDir). A nil env
// means the process environment, and then an unknown DATAMAN_* variable is an
// error too (see CheckEnv).
//
// An empty path means the file named by DATAMAN_CONFIG, or no file at all. A
// relative path that does not exist is looked for in FallbackDir, as dataMan
// did. Every path in the result is absolute; none is checked to exist.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		if err := CheckEnv(os.Environ()); err != nil {
			return nil, err
		}
		env = os.LookupEnv
	}
	if path == "" {
		path, _ = env(EnvConfig)
	}
	c := Default()
	if path != "" {
		name, data, err := readFile(path)
		if err != nil {
			return nil, err
		}
		if err := c.applyYAML(name, data, SourceFile); err != nil {
			return nil, err
		}
		c.file = name
	}
	if err := c.applyEnv(env); err != nil {
		return nil, err
	}
	if err := c.absPaths(); err != nil {
		return nil, err
	}
	if err := c.deriveStateDir(env); err != nil {
		return nil, err
	}
	return c, nil
}

// File is the configuration file Load read, "" if none.
func (c *Config) File() string { return c.file }

// From says which file or variable gave e its value: the configuration
// file, the DATAMAN_* variable, or what a derived value was derived from;
// "" for a default or a flag.
func (c *Config) From(e Entry) string {
	switch e.Source {
	case SourceFile:
		return c.file
	case SourceEnv:
		return EnvVar(e.Key)
	case SourceSystemd, SourceDerived:
		return c.derived[e.Key]
	}
	return ""
}

func readFile(path string) (string, []byte, error) {
	data, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) && !filepath.IsAbs(path) && FallbackDir != "" {
		alt := filepath.Join(FallbackDir, path)
		altData, altErr := readLimited(alt)
		if errors.Is(altErr, fs.ErrNotExist) {
			err = fmt.Errorf("%w (nor in %s)", err, FallbackDir)
		} else {
			path, data, err = alt, altData, altErr
		}
	}
	if err != nil {
		return "", nil, &Error{Err: err}
	}
	return path, data, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes, too large for a configuration file", path, maxFileSize)
	}
	return data, nil
}

// Set gives key (dotted, as in the YAML file) the value, parsed and checked as
// if it came from the file, and records src as its source. A value from a
// lower-precedence source than the key already has is checked but not applied,
// so precedence does not depend on the order of calls. Relative paths are made
// absolute against the working directory, except for SourceDefault.
func (c *Config) Set(key, value string, src Source) error {
	if src.rank() == 0 {
		return &Error{Key: key, Err: fmt.Errorf("unknown source %q", src)}
	}
	f := lookup(key)
	if f == nil {
		return &Error{Key: key, Err: unknownKey(key, value)}
	}
	if err := c.set(f, value, src); err != nil {
		return &Error{Key: key, Err: err}
	}
	return nil
}

func (c *Config) set(f *field, value string, src Source) error {
	if src.rank() < c.sources[f.key].rank() {
		scratch := *c
		return f.set(&scratch, value, src)
	}
	if err := f.set(c, value, src); err != nil {
		return err
	}
	if c.sources == nil {
		c.sources = make(map[string]Source)
	}
	c.sources[f.key] = src
	return nil
}

// absPaths resolves what only the default leaves relative; the other sources
// resolve as they set.
func (c *Config) absPaths() error {
	for i := range fields {
		f := &fields[i]
		if f.path == nil {
			continue
		}
		p := f.path(c)
		abs, err := absPath(*p)
		if err != nil {
			return &Error{Key: f.key, Err: err}
		}
		*p = abs
	}
	return nil
}

// Entries lists every key in a fixed order, the order of the YAML document
// printed by DefaultYAML: server, paths, processing, debug, jobs, queue,
// site, delivery, sweep, log.
func (c *Config) Entries() []Entry {
	out := make([]Entry, len(fields))
	for i := range fields {
		f := &fields[i]
		out[i] = Entry{Key: f.key, Value: f.get(c), Source: c.sources[f.key]}
	}
	return out
}

// Error is a configuration problem. Its message names where the value came
// from (file and line, or environment variable), the key and the value.
type Error struct {
	Path string // configuration file, "" if not from a file
	Line int    // line in Path, 0 if unknown
	Var  string // environment variable, "" if not from the environment
	Key  string // dotted key, "" if the problem is not with one key
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	switch {
	case e.Path != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.Path, e.Line)
	case e.Path != "":
		b.WriteString(e.Path + ": ")
	case e.Var != "":
		b.WriteString(e.Var + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
