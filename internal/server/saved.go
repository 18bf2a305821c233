package server

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
)

// RequestsFile, in the state directory, holds the requests a server had
// not finished when it stopped: queued, waiting for their raw file, or cut
// short by the stop timeout. The next start takes them up at once and
// removes the file, so a restart costs them seconds, not a sweep interval.
// One raw file name a line, then when its datagram came (RFC 3339), so
// that a request that waits across a restart does not take .new from a
// frame announced after it; lines starting with # are comments. A line
// with a name alone (an older file) counts as announced at the start.
const RequestsFile = "requests"

const requestsHeader = "# dataman listen: requests not finished when it stopped, taken up when it starts again\n"

// saved is a request read back from the requests file.
type saved struct {
	name     frame.Name
	received time.Time // zero when the line has none
}

// saveRequests writes the requests left to dir's requests file, atomically.
func saveRequests(dir string, left []*request) error {
	var b strings.Builder
	b.WriteString(requestsHeader)
	for _, r := range left {
		b.WriteString(r.name.Base)
		if !r.received.IsZero() {
			b.WriteString(" " + r.received.UTC().Format(time.RFC3339Nano))
		}
		b.WriteString("\n")
	}
	return atomicfile.WriteFile(filepath.Join(dir, RequestsFile), []byte(b.String()), 0o644)
}

// readRequests reads dir's requests file. Lines that are not raw file names
// are returned as errors alongside the names.
func readRequests(dir string) ([]saved, []error, error) {
	path := filepath.Join(dir, RequestsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var reqs []saved
	var bad []error
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, at, _ := strings.Cut(line, " ")
		n, err := frame.ParseName(name)
		if err != nil {
			bad = append(bad, fmt.Errorf("%s:%d: %w", path, i+1, err))
			continue
		}
		r := saved{name: n}
		if at = strings.TrimSpace(at); at != "" {
			if r.received, err = time.Parse(time.RFC3339Nano, at); err != nil {
				bad = append(bad, fmt.Errorf("%s:%d: %w", path, i+1, err))
				r.received = time.Time{}
			}
		}
		reqs = append(reqs, r)
	}
	return reqs, bad, nil
}

// restore takes up the requests the last run left, then removes the file:
// from here on they are the server's, and saved again if it stops first.
func (s *server) restore() {
	reqs, bad, err := readRequests(s.o.StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		s.log.Warn("requests left by the last run unreadable; the sweep delivers them", "err", err)
		return
	}
	for _, err := range bad {
		s.log.Warn("requests left by the last run: line skipped", "err", err)
	}
	now := time.Now()
	for _, r := range reqs {
		s.admit(&request{name: r.name, received: cmp.Or(r.received, now)})
	}
	if len(reqs) > 0 {
		s.log.Info("requests left by the last run taken up", "count", len(reqs), "files", listed(reqs, func(r saved) string { return r.name.Base }))
	}
	if err := os.Remove(filepath.Join(s.o.StateDir, RequestsFile)); err != nil {
		s.log.Warn("requests left by the last run", "err", err)
	}
}

// save writes the requests not finished for the next start.
func (s *server) save(left []*request) {
	if len(left) == 0 {
		return
	}
	if err := saveRequests(s.o.StateDir, left); err != nil {
		s.log.Warn("requests not saved; the next sweep delivers them", "count", len(left), "err", err)
		return
	}
	s.log.Info("requests saved for the next start", "count", len(left), "files", listed(left, func(r *request) string { return r.name.Base }))
}

// listed names the first few of a list for a log line.
func listed[T any](items []T, name func(T) string) string {
	const most = 20
	var b strings.Builder
	for i, it := range items {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(items)-most)
			break
		}
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(name(it))
	}
	return b.String()
}
