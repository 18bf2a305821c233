package testtree

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// State maps every path under root, root included, to its description.
func State(tb testing.TB, root string) map[string]string {
	tb.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		s := fi.Mode().String() + " " + strconv.FormatInt(fi.Size(), 10) + " " + strconv.FormatInt(fi.ModTime().UnixNano(), 10)
		if fi.Mode().IsRegular() {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
			s += " " + hex.EncodeToString(h.Sum(nil))
		}
		state[path] = s
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return state
}

// Changes lists, sorted, what differs between two states: paths changed,
// gone or new.
func Changes(before, after map[string]string) []string {
	var out []string
	for p, s := range before {
		switch a, ok := after[p]; {
		case !ok:
			out = append(out, p+": gone")
		case a != s:
			out = append(out, p+": "+s+" -> "+a)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			out = append(out, p+": new")
		}
	}
	sort.Strings(out)
	return out
}
