package udp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/obsdata/dataman/internal/frame"
)

// MaxDatagram is the largest payload read whole. No UDP datagram over IPv4
// or IPv6 (without jumbograms) is longer, so a reader with a buffer one byte
// larger can tell a whole datagram from a cut one; dataMan read 1024 bytes
// and silently truncated the rest.
const MaxDatagram = 64 << 10

// maxPath bounds the path argument: no file system takes a longer one, and
// a log line quoting it stays readable.
const maxPath = 4096

// Command is what a datagram asks for.
type Command int

const (
	Proc Command = iota + 1 // condition, store and dispatch one raw file
	Quit                    // stop the server
)

func (c Command) String() string {
	switch c {
	case Proc:
		return "proc"
	case Quit:
		return "quit"
	}
	return fmt.Sprintf("Command(%d)", int(c))
}

// Request is a well-formed datagram.
type Request struct {
	Cmd  Command
	Path string     // the argument of proc as sent; only its base name is used
	Name frame.Name // the raw file proc names
}

// The ways a datagram can be refused. Parse wraps them with the detail.
var (
	ErrEmpty   = errors.New("empty datagram")
	ErrBlank   = errors.New("datagram holds only white space")
	ErrTooLong = errors.New("datagram too long")
	ErrNotUTF8 = errors.New("datagram is not UTF-8")
	ErrUnknown = errors.New("unknown command")
	ErrNoFile  = errors.New("proc without a file name")
	ErrBadName = errors.New("not a raw file name")
)

// Parse reads one datagram. Like dataMan it splits on white space, takes the
// first word as the command in any case and the second as its argument, and
// ignores the rest. Only the base name of proc's argument counts, and it must
// be a raw file name, so no datagram can name a file outside the raw folders.
func Parse(b []byte) (Request, error) {
	switch {
	case len(b) == 0:
		return Request{}, ErrEmpty
	case len(b) > MaxDatagram:
		return Request{}, fmt.Errorf("%w: more than %d bytes", ErrTooLong, MaxDatagram)
	case !utf8.Valid(b):
		return Request{}, ErrNotUTF8
	}
	words := strings.Fields(string(b))
	if len(words) == 0 {
		return Request{}, ErrBlank
	}
	switch {
	case strings.EqualFold(words[0], "quit"):
		return Request{Cmd: Quit}, nil
	case !strings.EqualFold(words[0], "proc"):
		return Request{}, fmt.Errorf("%w %s", ErrUnknown, Quote([]byte(words[0])))
	case len(words) < 2:
		return Request{}, ErrNoFile
	}
	path := words[1]
	if len(path) > maxPath {
		return Request{}, fmt.Errorf("%w: proc argument of %d bytes", ErrTooLong, len(path))
	}
	// The sender's directory means nothing here (it is the camera server's
	// /home/data); the file is looked for in the raw folders.
	base := path[strings.LastIndexByte(path, '/')+1:]
	n, err := frame.ParseName(base)
	if err != nil {
		return Request{}, fmt.Errorf("%w: %s", ErrBadName, Quote([]byte(path)))
	}
	return Request{Cmd: Proc, Path: path, Name: n}, nil
}

// quoteLimit keeps a log line about a hostile datagram short.
const quoteLimit = 80

// Quote renders untrusted bytes for a log line: Go-quoted, so control
// characters and invalid UTF-8 cannot forge log lines, and cut short with
// the full length noted.
func Quote(b []byte) string {
	if len(b) <= quoteLimit {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q… (%d bytes)", b[:quoteLimit], len(b))
}
