package metrics

import (
	"context"
	"errors"
	"io/fs"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"

	"github.com/obsdata/dataman/internal/stall"
	"github.com/obsdata/dataman/sweep"
)

// Datagram kinds, the label of DatagramsTotal.
const (
	KindProc        = "proc"
	KindQuit        = "quit"
	KindQuitRefused = "quit_refused"
	KindInvalid     = "invalid"
)

// Folder is a folder whose free space is reported, under its config key.
type Folder struct {
	Key, Dir string
	Timeout  time.Duration // stall timeout of statfs; 0: DefaultStatfsTimeout
}

// DefaultStatfsTimeout bounds a scrape's statfs of a folder on a hung mount.
const DefaultStatfsTimeout = 2 * time.Second

// Options are what the gauges read at scrape time. Every field is optional.
type Options struct {
	Version  string
	StateDir string   // where sweep's last-sweep file is
	Folders  []Folder // free bytes per folder
	// Pending counts the dispatches waiting to be tried again.
	Pending func() (int, error)
	// Statfs is the free space of dir in bytes; nil is statfs(2).
	Statfs func(dir string) (int64, error)
}

// Metrics are listen's metrics. A nil *Metrics does nothing, so that the
// server needs no check where it counts.
type Metrics struct {
	reg *prometheus.Registry

	datagrams  *prometheus.CounterVec
	delivered  *prometheus.CounterVec
	failed     *prometheus.CounterVec
	latency    prometheus.Histogram
	steps      *prometheus.HistogramVec
	queueDepth atomic.Pointer[func() int]
}

// New builds the metrics on a registry of their own.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.datagrams = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dataman_datagrams_total",
		Help: "UDP datagrams received, by kind (proc, quit, quit_refused, invalid).",
	}, []string{"kind"})
	m.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dataman_frames_delivered_total",
		Help: "Frames listen delivered (stored and dispatched, .new updated), by channel.",
	}, []string{"channel"})
	m.failed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dataman_frames_failed_total",
		Help: "Frames listen did not deliver, by channel and the step that failed (condition, dispatch: pending).",
	}, []string{"channel", "step"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "dataman_delivery_latency_seconds",
		Help:    "Time from a proc datagram to its frame's <CHAN>.new.",
		Buckets: []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60},
	})
	m.steps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "dataman_step_duration_seconds",
		Help:    "Duration of the steps of a delivery by listen (check, condition, store, dispatch).",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"step"})
	m.reg.MustRegister(m.datagrams, m.delivered, m.failed, m.latency, m.steps)

	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dataman_queue_depth",
		Help: "Requests waiting: for a check of their raw file or for a worker.",
	}, func() float64 {
		if f := m.queueDepth.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	}))
	if o.Pending != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dataman_pending_dispatches",
			Help: "Frames whose dispatch is pending (-1: the ledger could not be read).",
		}, func() float64 {
			n, err := o.Pending()
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dataman_last_sweep_timestamp_seconds",
		Help: "When the last sweep finished, in Unix seconds (0: none known).",
	}, func() float64 { return lastSweep(o.StateDir) }))
	if len(o.Folders) > 0 {
		m.reg.MustRegister(newFreeCollector(o.Folders, o.Statfs))
	}
	bi := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dataman_build_info",
		Help: "Always 1; the labels say which dataman runs.",
	}, []string{"version", "goversion"})
	bi.WithLabelValues(o.Version, runtime.Version()).Set(1)
	m.reg.MustRegister(bi)
	return m
}

// Registry is where the metrics are registered, for the handler and tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetQueueDepth sets what dataman_queue_depth reads at scrape time.
func (m *Metrics) SetQueueDepth(f func() int) {
	if m != nil {
		m.queueDepth.Store(&f)
	}
}

// Datagram counts one datagram of kind.
func (m *Metrics) Datagram(kind string) {
	if m != nil {
		m.datagrams.WithLabelValues(kind).Inc()
	}
}

// Delivered counts a frame of channel delivered, with the time from its
// datagram (latency 0: not from a datagram, not observed).
func (m *Metrics) Delivered(channel string, latency time.Duration) {
	if m == nil {
		return
	}
	m.delivered.WithLabelValues(channel).Inc()
	if latency > 0 {
		m.latency.Observe(latency.Seconds())
	}
}

// Failed counts a frame of channel that failed at step.
func (m *Metrics) Failed(channel, step string) {
	if m != nil {
		m.failed.WithLabelValues(channel, step).Inc()
	}
}

// Step observes the duration of one step; a zero duration (the step did
// not run) is left out.
func (m *Metrics) Step(step string, d time.Duration) {
	if m != nil && d > 0 {
		m.steps.WithLabelValues(step).Observe(d.Seconds())
	}
}

// lastSweep is the time in the last-sweep file, which every sweep that is
// not a dry run writes: listen's own and the sweep command's.
func lastSweep(stateDir string) float64 {
	if stateDir == "" {
		return 0
	}
	l, err := sweep.ReadLast(stateDir)
	if err != nil || l.Time.IsZero() {
		return 0
	}
	return float64(l.Time.UnixNano()) / 1e9
}

// freeCollector reads each folder's free space at scrape time, under a
// stall timeout, so that a hung mount costs a scrape one timeout and leaves
// at most one blocked goroutine behind per folder.
type freeCollector struct {
	folders []Folder
	statfs  func(string) (int64, error)
	w       stall.Watcher
	desc    *prometheus.Desc
}

func newFreeCollector(folders []Folder, statfs func(string) (int64, error)) *freeCollector {
	if statfs == nil {
		statfs = freeBytes
	}
	return &freeCollector{folders: folders, statfs: statfs,
		desc: prometheus.NewDesc("dataman_free_bytes",
			"Bytes free for dataman in a folder, by its config key and path; absent when statfs failed or timed out.",
			[]string{"key", "folder"}, nil)}
}

func (c *freeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *freeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.folders {
		limit := f.Timeout
		if limit <= 0 {
			limit = DefaultStatfsTimeout
		}
		free, err := stall.Do(context.Background(), &c.w, f.Dir, limit, func(context.Context, func()) (int64, error) {
			return c.statfs(f.Dir)
		})
		if err != nil {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(free), f.Key, f.Dir)
	}
}

func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, fs.ErrNotExist
		}
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
