package sdnotify

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// listen opens the service manager's end: a datagram socket at name.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	// A deadline only so that a missing message fails the test instead of
	// hanging it; nothing is measured.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func shortDir(t *testing.T) string {
	// sun_path holds 108 bytes; t.TempDir can be longer than that.
	dir, err := os.MkdirTemp("", "sdn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestMessages(t *testing.T) {
	for _, kind := range []string{"path", "abstract"} {
		t.Run(kind, func(t *testing.T) {
			var sock string
			if kind == "path" {
				sock = filepath.Join(shortDir(t), "notify")
			} else {
				sock = fmt.Sprintf("@dataman-sdnotify-test-%d-%x", os.Getpid(), rand.Uint64())
			}
			srv := listen(t, sock)
			n, err := FromEnv(env(map[string]string{"NOTIFY_SOCKET": sock}))
			if err != nil {
				t.Fatal(err)
			}
			if !n.Enabled() {
				t.Fatal("not enabled with NOTIFY_SOCKET set")
			}
			steps := []struct {
				send func() error
				want string
			}{
				{func() error { return n.Ready("listening on 127.0.0.1:10301") }, "READY=1\nSTATUS=listening on 127.0.0.1:10301\n"},
				{func() error { return n.Status("last mods1b.20260119.0001.fits\nqueue 0") }, "STATUS=last mods1b.20260119.0001.fits queue 0\n"},
				{n.Watchdog, "WATCHDOG=1\n"},
				{func() error { return n.Stopping("quit from 127.0.0.1") }, "STOPPING=1\nSTATUS=quit from 127.0.0.1\n"},
			}
			for _, s := range steps {
				if err := s.send(); err != nil {
					t.Fatal(err)
				}
				if got := receive(t, srv); got != s.want {
					t.Errorf("got %q, want %q", got, s.want)
				}
			}
		})
	}
}

func TestWithoutSystemd(t *testing.T) {
	n, err := FromEnv(env(map[string]string{"WATCHDOG_USEC": "30000000"}))
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() || n.WatchdogSec() != 0 {
		t.Errorf("enabled %v, watchdog %v without NOTIFY_SOCKET", n.Enabled(), n.WatchdogSec())
	}
	for _, f := range []func() error{func() error { return n.Ready("x") }, n.Watchdog, func() error { return n.Stopping("") }} {
		if err := f(); err != nil {
			t.Error(err)
		}
	}
	var nilN *Notifier
	if nilN.Enabled() || nilN.Send("READY=1") != nil {
		t.Error("a nil Notifier does something")
	}
}

func TestSendFailsWithoutListener(t *testing.T) {
	n, err := FromEnv(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(shortDir(t), "nobody")}))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Watchdog(); err == nil {
		t.Error("sent to a socket nobody listens on")
	}
	if err := n.Send("READY"); err == nil {
		t.Error("sent an assignment without =")
	}
}

func TestWatchdogSec(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	cases := []struct {
		env  map[string]string
		want time.Duration
		bad  bool
	}{
		{map[string]string{}, 0, false},
		{map[string]string{"WATCHDOG_USEC": "30000000"}, 30 * time.Second, false},
		{map[string]string{"WATCHDOG_USEC": "1500", "WATCHDOG_PID": me}, 1500 * time.Microsecond, false},
		{map[string]string{"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, 0, false}, // meant for another process
		{map[string]string{"WATCHDOG_USEC": "soon"}, 0, true},
		{map[string]string{"WATCHDOG_USEC": "0"}, 0, true},
		{map[string]string{"WATCHDOG_USEC": "10", "WATCHDOG_PID": "me"}, 0, true},
		{map[string]string{"NOTIFY_SOCKET": "relative/path"}, 0, true},
	}
	for _, c := range cases {
		if _, ok := c.env["NOTIFY_SOCKET"]; !ok {
			c.env["NOTIFY_SOCKET"] = "@unused"
		}
		n, err := FromEnv(env(c.env))
		if (err != nil) != c.bad {
			t.Errorf("%v: error %v", c.env, err)
			continue
		}
		if err == nil && n.WatchdogSec() != c.want {
			t.Errorf("%v: WatchdogSec %v, want %v", c.env, n.WatchdogSec(), c.want)
		}
	}
}
