package commands

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// readList reads names one per line from path ("-" for r), skipping blank
// lines and # comments: the --files-from format, which a batch scheduler can
// shard by line number.
func readList(path string, r io.Reader) ([]string, error) {
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out, sc.Err()
}
