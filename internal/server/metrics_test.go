package server

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/metrics"
)

// statusField reads one field of the running server's .status.
func statusField(t *testing.T, stateDir, key string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(stateDir, control.StatusFile))
	if err != nil {
		t.Fatal(err)
	}
	_, f, err := control.ParseStatus(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return f[key]
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b)
}

// With an HTTP address, listen serves /metrics and /healthz there, counts
// the datagrams and the frames delivered, and closes the port when it stops.
func TestListenMetrics(t *testing.T) {
	o := testListenOptions(t)
	o.HTTP = "127.0.0.1:0"
	a := writeRaw(t, o.DataDir, 1)
	m := metrics.New(metrics.Options{Version: "test", StateDir: o.StateDir})
	r := startListen(t, o, newListenFake(), Deps{Metrics: m})
	httpAddr := statusField(t, o.StateDir, "http")
	if host, port, err := net.SplitHostPort(httpAddr); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf(".status http=%q, want 127.0.0.1 and the port bound", httpAddr)
	}

	r.send(t, "proc /home/data/"+a, "hello")
	r.log.waitFor(t, "delivered", 1)
	r.log.waitFor(t, "datagram dropped", 1)

	if got := get(t, "http://"+httpAddr+"/healthz"); got != "ok\n" {
		t.Errorf("/healthz = %q", got)
	}
	text := get(t, "http://"+httpAddr+"/metrics")
	for _, want := range []string{
		`dataman_datagrams_total{kind="proc"} 1`,
		`dataman_datagrams_total{kind="invalid"} 1`,
		`dataman_frames_delivered_total{channel="MODS1B"} 1`,
		`dataman_delivery_latency_seconds_count 1`,
		`dataman_step_duration_seconds_count{step="check"} 1`,
		`dataman_queue_depth 0`,
		`dataman_last_sweep_timestamp_seconds 0`,
		`dataman_build_info{goversion="`,
	} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}

	r.send(t, "quit")
	if err := r.wait(t); err != nil {
		t.Fatalf("listen after quit: %v", err)
	}
	if c, err := net.Dial("tcp", httpAddr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after listen stopped", httpAddr)
	}
}

// Without an HTTP address nothing but the UDP socket is bound.
func TestListenNoHTTPByDefault(t *testing.T) {
	o := testListenOptions(t)
	startListen(t, o, newListenFake(), Deps{})
	if got := statusField(t, o.StateDir, "http"); got != "" {
		t.Errorf(".status http=%q without server.http", got)
	}
}

// An HTTP address that cannot be bound stops listen at start-up.
func TestListenHTTPBindFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := testListenOptions(t)
	o.HTTP = ln.Addr().String()
	o.Jobs = 1
	err = Run(t.Context(), o, Deps{Deliverer: newListenFake()})
	if err == nil || !strings.Contains(err.Error(), "http "+o.HTTP) {
		t.Fatalf("Run with %s taken: %v, want an error naming it", o.HTTP, err)
	}
}

// Pages are served on the same address as the metrics, which they do not
// shadow; without an HTTP address they are not served at all.
func TestListenPages(t *testing.T) {
	o := testListenOptions(t)
	o.HTTP = "127.0.0.1:0"
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page "+r.URL.Path) })
	r := startListen(t, o, newListenFake(), Deps{Pages: pages})
	httpAddr := statusField(t, o.StateDir, "http")
	for path, want := range map[string]string{"/": "page /", "/night/20260119": "page /night/20260119", "/healthz": "ok\n"} {
		if got := get(t, "http://"+httpAddr+path); got != want {
			t.Errorf("GET %s = %q, want %q", path, got, want)
		}
	}
	if got := get(t, "http://"+httpAddr+"/metrics"); !strings.Contains(got, "dataman_queue_depth") {
		t.Errorf("/metrics shadowed by the pages: %q", got)
	}
	r.send(t, "quit")
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", httpAddr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after listen stopped", httpAddr)
	}
}
