package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Where paths.stateDir goes when nobody gives it. The ledger and the locks
// live there, so every command run with the same config must find the same
// place from any working directory, and two instruments must never share
// one: a state folder is never derived from the working directory.

// EnvStateDirectory is what systemd sets for a unit with StateDirectory=.
const EnvStateDirectory = "STATE_DIRECTORY"

// SystemStateDir holds the derived state folders of root, as systemd's
// StateDirectory= does for system units.
const SystemStateDir = "/var/lib/dataman"

// geteuid is os.Geteuid, replaceable in tests.
var geteuid = os.Geteuid

// deriveStateDir gives paths.stateDir, when no file, variable or flag did:
//
//  1. $STATE_DIRECTORY, the first of its colon-separated folders: the unit's
//     StateDirectory= (/var/lib/dataman/<instance> for the units in deploy/);
//  2. else, when a configuration file was read, <base>/<name>-<hash>, where
//     name is the file's base name without its extension and hash the first
//     8 hex digits of the SHA-256 of its absolute path, symlinks resolved;
//     base is $XDG_STATE_HOME/dataman when that is set, /var/lib/dataman
//     for root, and $HOME/.local/state/dataman for anyone else;
//  3. else the built-in default, ./dataman-data/state, like every other
//     path of the built-in default.
//
// A flag (--set paths.stateDir=…) still beats the derived value.
func (c *Config) deriveStateDir(env func(string) (string, bool)) error {
	const key = "paths.stateDir"
	if c.sources[key] != SourceDefault {
		return nil
	}
	if v, ok := env(EnvStateDirectory); ok && v != "" {
		first, _, _ := strings.Cut(v, ":")
		return c.setDerived(key, first, SourceSystemd, EnvStateDirectory)
	}
	if c.file == "" {
		return nil
	}
	base, err := stateBase(env, geteuid())
	if err != nil {
		return &Error{Key: key, Err: err}
	}
	name, abs := stateName(c.file)
	return c.setDerived(key, filepath.Join(base, name), SourceDerived, abs)
}

func (c *Config) setDerived(key, value string, src Source, from string) error {
	if err := c.set(lookup(key), value, src); err != nil {
		return &Error{Key: key, Err: fmt.Errorf("derived from %s: %w", from, err)}
	}
	if c.derived == nil {
		c.derived = make(map[string]string)
	}
	c.derived[key] = from
	return nil
}

// stateBase is the folder that holds the derived state folders of this user.
func stateBase(env func(string) (string, bool), euid int) (string, error) {
	// The XDG base directory spec ignores a relative XDG_STATE_HOME.
	if v, _ := env("XDG_STATE_HOME"); filepath.IsAbs(v) {
		return filepath.Join(v, "dataman"), nil
	}
	if euid == 0 {
		return SystemStateDir, nil
	}
	if home, _ := env("HOME"); filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "state", "dataman"), nil
	}
	return "", errors.New("not set, and neither $XDG_STATE_HOME nor $HOME is there to derive it from: give paths.stateDir")
}

// stateName names the state folder of the configuration file path, and
// returns the absolute path it was derived from. The same file by any
// name (relative, through a symlink, found in FallbackDir) gives the same
// folder; another file, even of the same base name, another.
func stateName(path string) (name, abs string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = filepath.Clean(path)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	base := strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, base)
	sum := sha256.Sum256([]byte(abs))
	return base + "-" + hex.EncodeToString(sum[:4]), abs
}
