package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends state changes to the service manager. The zero value and a
// nil *Notifier send nothing, so callers need no "under systemd?" branches.
type Notifier struct {
	addr     *net.UnixAddr
	watchdog time.Duration
}

// FromEnv reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID as systemd
// sets them for the main process of a service. lookup is os.LookupEnv in
// production.
func FromEnv(lookup func(string) (string, bool)) (*Notifier, error) {
	n := &Notifier{}
	sock, ok := lookup("NOTIFY_SOCKET")
	if ok && sock != "" {
		if sock[0] != '/' && sock[0] != '@' {
			return nil, fmt.Errorf("sdnotify: NOTIFY_SOCKET %q is neither a path nor an abstract socket (@name)", sock)
		}
		// Go's unix sockaddr maps a leading '@' to the NUL byte of Linux's
		// abstract namespace, which is the convention systemd uses.
		n.addr = &net.UnixAddr{Name: sock, Net: "unixgram"}
	}
	d, err := watchdogInterval(lookup)
	if err != nil {
		return nil, err
	}
	n.watchdog = d
	return n, nil
}

// watchdogInterval is WatchdogSec, or 0 if the watchdog is off or meant for
// another process (WATCHDOG_PID names the process systemd watches).
func watchdogInterval(lookup func(string) (string, bool)) (time.Duration, error) {
	usec, ok := lookup("WATCHDOG_USEC")
	if !ok || usec == "" {
		return 0, nil
	}
	if pid, ok := lookup("WATCHDOG_PID"); ok && pid != "" {
		p, err := strconv.Atoi(pid)
		if err != nil {
			return 0, fmt.Errorf("sdnotify: WATCHDOG_PID %q is not a number", pid)
		}
		if p != os.Getpid() {
			return 0, nil
		}
	}
	us, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || us <= 0 {
		return 0, fmt.Errorf("sdnotify: WATCHDOG_USEC %q is not a positive number", usec)
	}
	return time.Duration(us) * time.Microsecond, nil
}

// Enabled reports whether there is a service manager to tell.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// WatchdogSec is the interval within which systemd expects WATCHDOG=1, or 0
// when there is no watchdog. Send the pings at half of it or more often.
func (n *Notifier) WatchdogSec() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog
}

// Send sends assignments ("READY=1", "STATUS=…") in one datagram. A new
// socket per message, as sd_notify does, so that nothing is held open
// across a service manager restart.
func (n *Notifier) Send(assignments ...string) error {
	if !n.Enabled() {
		return nil
	}
	var b strings.Builder
	for _, a := range assignments {
		if !strings.Contains(a, "=") {
			return fmt.Errorf("sdnotify: %q is not VARIABLE=value", a)
		}
		b.WriteString(a)
		b.WriteByte('\n')
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	_, err = c.Write([]byte(b.String()))
	return errors.Join(wrap(err), wrap(c.Close()))
}

func wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sdnotify: %w", err)
}

// Ready tells systemd the service is up: for dataman, the socket is bound
// and datagrams are being read.
func (n *Notifier) Ready(status string) error {
	return n.Send("READY=1", "STATUS="+oneLine(status))
}

// Status sets the one-line text systemctl status shows.
func (n *Notifier) Status(status string) error { return n.Send("STATUS=" + oneLine(status)) }

// Watchdog is the keep-alive ping.
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// Stopping tells systemd a stop has begun, so it waits for the exit rather
// than taking it for a crash.
func (n *Notifier) Stopping(status string) error {
	return n.Send("STOPPING=1", "STATUS="+oneLine(status))
}

// A newline would end the assignment and start another.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
