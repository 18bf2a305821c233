package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Check reports what no single key can be wrong about: folders that
// overlap. procDir and repoDir must lie outside dataDir, and dataDir outside
// them: a conditioned copy written among the raw files could replace one
// (with collision: overwrite), and a copy in the raw folder would be taken
// for a raw frame, or a raw frame for a copy. Every command checks this at
// start, after the flags.
//
// The paths are compared as written, made absolute: a symlink is not
// followed, since following one would touch a /newdata that may be a hung
// NFS mount.
func (c *Config) Check() error {
	raw := c.Paths.DataDir
	for _, d := range []struct{ key, dir string }{
		{"paths.procDir", c.Paths.ProcDir},
		{"paths.repoDir", c.Paths.RepoDir},
	} {
		var what string
		switch {
		case filepath.Clean(d.dir) == filepath.Clean(raw):
			what = fmt.Sprintf("%s and paths.dataDir are the same folder, %s", d.key, raw)
		case inside(d.dir, raw):
			what = fmt.Sprintf("%s %s is inside paths.dataDir %s", d.key, d.dir, raw)
		case inside(raw, d.dir):
			what = fmt.Sprintf("paths.dataDir %s is inside %s %s", raw, d.key, d.dir)
		default:
			continue
		}
		return &Error{Err: fmt.Errorf("%s: the raw files must be kept apart from the conditioned copies", what)}
	}
	return nil
}

// inside reports whether path lies below dir.
func inside(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
