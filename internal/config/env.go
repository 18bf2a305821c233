package config

import (
	"errors"
	"slices"
	"strings"
)

const envPrefix = "DATAMAN_"

// EnvVar is the environment variable for a dotted key:
// "paths.repoDir" → "DATAMAN_PATHS_REPODIR".
func EnvVar(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func (c *Config) applyEnv(env func(string) (string, bool)) error {
	for i := range fields {
		f := &fields[i]
		name := EnvVar(f.key)
		v, ok := env(name)
		if !ok {
			continue
		}
		if err := c.set(f, v, SourceEnv); err != nil {
			return &Error{Var: name, Key: f.key, Err: err}
		}
	}
	return nil
}

// CheckEnv reports every DATAMAN_* variable in environ ("NAME=value"
// strings, as from os.Environ) that is neither DATAMAN_CONFIG, nor a key's
// variable, nor one of allowed: a misspelt variable would otherwise be
// silently ignored. The command line can pass the variables of its own
// flags in allowed.
func CheckEnv(environ []string, allowed ...string) error {
	known := make(map[string]bool, len(fields)+1+len(allowed))
	known[EnvConfig] = true
	for i := range fields {
		known[EnvVar(fields[i].key)] = true
	}
	for _, a := range allowed {
		known[a] = true
	}
	var bad []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, envPrefix) && !known[name] {
			bad = append(bad, name)
		}
	}
	slices.Sort(bad)
	errs := make([]error, 0, len(bad))
	for _, name := range slices.Compact(bad) {
		errs = append(errs, &Error{Var: name, Err: errors.New("unknown environment variable")})
	}
	return errors.Join(errs...)
}
