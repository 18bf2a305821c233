package commands

import (
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/dmlog"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/metrics"
	"github.com/obsdata/dataman/internal/nightlog"
	"github.com/obsdata/dataman/internal/sdnotify"
	"github.com/obsdata/dataman/internal/server"
	"github.com/obsdata/dataman/sweep"
)

func listenCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "listen",
		Usage:     "deliver each frame the camera server announces over UDP (the dataMan server)",
		ArgsUsage: " ",
		Description: "Receives the camera server's datagrams on server.ipAddr:server.ipPort (UDP, default port\n" +
			"10301): \"proc <path>\" delivers the raw file dataDir/<chan>/<base name of path> through the\n" +
			"shared delivery path (condition, store, dispatch, <CHAN>.new); \"quit\", accepted only from\n" +
			"server.quitPeers, stops the server like SIGTERM. At most the config's jobs files are processed at\n" +
			"once and its queue of them wait; a request for a file queued, in progress or already delivered does\n" +
			"nothing, and a file found complete when the queue is full is dropped with a warning. A raw file\n" +
			"not there yet or still being written is looked at again with backoff for two minutes, without\n" +
			"holding a worker or a place in the queue. Warnings about what a sender can repeat at will (bad\n" +
			"datagrams, refused quits, repeated requests) are rate-limited, with a count of those suppressed.\n" +
			"At start-up and every sweep.every the server sweeps the recent nights in-process, so frames\n" +
			"whose datagrams were lost are delivered all the same, and it sweeps again when a frame left for\n" +
			"being younger than sweep.minAge reaches that age.\n" +
			"\n" +
			"Under systemd (Type=notify) it sends READY=1 once the socket is bound, STATUS= with the last file\n" +
			"and the queue, WATCHDOG=1 while no worker has been on one file for more than half of\n" +
			"WatchdogSec, and STOPPING=1 on the way out. In paths.stateDir it keeps .pid and .status (the\n" +
			"state, the last file and the bound address) while it runs; a second listen on the same state\n" +
			"directory refuses to start. With log.file it also writes dataMan's log file in paths.logDir.\n" +
			"\n" +
			"With server.http or --http HOST:PORT (off by default) it serves, over HTTP on that address only,\n" +
			"/metrics in the Prometheus text format (dataman_* counters of datagrams and of frames delivered\n" +
			"and failed, queue depth, pending dispatches, datagram-to-.new latency, step durations, free bytes\n" +
			"per folder, the last sweep's time, build info), /healthz, and the night log (see dataman nightlog):\n" +
			"/ for the current observing night, refreshed every 30 s, /night/CCYYMMDD for any other, with the\n" +
			"previews of procDir/CCYYMMDD/ and no other file; .status gives the bound address.\n" +
			"\n" +
			"On quit, SIGTERM or SIGINT it stops reading, finishes the files in progress (for at most\n" +
			"--stop-timeout), saves the requests not finished in paths.stateDir/requests and exits 0; the\n" +
			"next start takes them up at once.",
		Flags: withConfigFlags(
			&cli.StringFlag{Name: "addr", Usage: "listen on `HOST:PORT` instead of server.ipAddr:server.ipPort (port 0: any free port, see .status)"},
			&cli.StringFlag{Name: "http", Usage: "serve /metrics, /healthz and the night log on `HOST:PORT` (TCP) instead of server.http (\"\": none)"},
			&cli.DurationFlag{Name: "stop-timeout", Value: 30 * time.Second, Usage: "longest wait for files in progress when stopping"},
			&cli.StringSliceFlag{Name: "night", Usage: "also sweep observing night `CCYYMMDD` (repeatable; the recent nights always are)"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return exitcode.Usagef("listen takes no arguments")
			}
			ctx, cfg, err := setup(c)
			if err != nil {
				return err
			}
			o, err := listenOptionsFrom(c, cfg)
			if err != nil {
				return err
			}
			log := logx.From(ctx)
			if cfg.Log.File {
				file := dmLogHandler(cfg, log)
				defer file.Close()
				log = slog.New(dmlog.Tee(log.Handler(), file))
			}
			if err := makeDefaultDirs(cfg); err != nil {
				return err
			}
			d, err := newDeliverer(cfg, version, log)
			if err != nil {
				return exitcode.New(exitcode.Usage, err)
			}
			defer d.Close()
			notify, err := sdnotify.FromEnv(os.LookupEnv)
			if err != nil {
				log.Warn("not notifying systemd", "err", err)
			}
			return server.Run(logx.With(ctx, log), o, server.Deps{
				Deliverer: d,
				Notify:    notify,
				Metrics:   listenMetrics(o, cfg, version, d),
				Pages:     listenPages(o, cfg, d, log),
				Reconcile: server.Sweeper(sweep.Options{
					Deliverer:   d,
					MinAge:      cfg.Sweep.MinAge,
					Lock:        sweep.NewLock(cfg.Paths.StateDir),
					RepoTimeout: cfg.Repo.Timeout,
					Version:     version,
					Log:         log,
				}, c.StringSlice("night")),
			})
		},
	}
}

var listenStatuses = []exitStatus{
	{exitcode.OK, "stopped by quit, SIGTERM or SIGINT"},
	{exitcode.Failure, "could not start (socket, state directory) or the socket failed"},
	statusUsage,
	{exitcode.Locked, "another listen is running on the same state directory"},
}

func listenOptionsFrom(c *cli.Context, cfg *config.Config) (server.Options, error) {
	addr := net.JoinHostPort(cfg.Server.IPAddr, strconv.Itoa(cfg.Server.IPPort))
	if c.IsSet("addr") {
		addr = c.String("addr")
		if _, port, err := net.SplitHostPort(addr); err != nil {
			return server.Options{}, exitcode.Usagef("--addr %q: %v", addr, err)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return server.Options{}, exitcode.Usagef("--addr %q: bad port", addr)
		}
	}
	httpAddr := cfg.Server.HTTP
	if c.IsSet("http") {
		httpAddr = c.String("http")
		if err := config.CheckHTTPAddr(httpAddr); err != nil {
			return server.Options{}, exitcode.Usagef("--http: %v", err)
		}
	}
	if c.Duration("stop-timeout") <= 0 {
		return server.Options{}, exitcode.Usagef("--stop-timeout must be positive")
	}
	for _, n := range c.StringSlice("night") {
		if _, err := frame.ParseNight(n); err != nil {
			return server.Options{}, exitcode.Usagef("--night: %v", err)
		}
	}
	return server.Options{
		Addr:        addr,
		HTTP:        httpAddr,
		Jobs:        cfg.Jobs,
		Queue:       cfg.Queue,
		QuitPeers:   cfg.Server.QuitPeers,
		DataDir:     cfg.Paths.DataDir,
		StateDir:    cfg.Paths.StateDir,
		StopTimeout: c.Duration("stop-timeout"),
		SweepEvery:  cfg.Sweep.Every,
		Retry:       deliver.Backoff{Initial: cfg.Retry.Initial, Max: cfg.Retry.Max},
		Incomplete:  server.DefaultIncomplete,
	}, nil
}

// listenMetrics are the server's metrics when it serves them, else nil.
func listenMetrics(o server.Options, cfg *config.Config, version string, d *deliver.Deliverer) *metrics.Metrics {
	if o.HTTP == "" {
		return nil
	}
	return metrics.New(metrics.Options{
		Version:  version,
		StateDir: cfg.Paths.StateDir,
		Folders: []metrics.Folder{
			{Key: "paths.procDir", Dir: cfg.Paths.ProcDir},
			{Key: "paths.repoDir", Dir: cfg.Paths.RepoDir},
			{Key: "paths.stateDir", Dir: cfg.Paths.StateDir},
		},
		Pending: func() (int, error) {
			files, err := d.Pending()
			return len(files), err
		},
	})
}

// listenPages is the night log when the server has an HTTP address, else
// nil.
func listenPages(o server.Options, cfg *config.Config, d *deliver.Deliverer, log *slog.Logger) http.Handler {
	if o.HTTP == "" {
		return nil
	}
	return nightlog.Handler(nightlog.Options{Status: viewOptions(cfg, d)}, log)
}

func dmLogHandler(cfg *config.Config, log *slog.Logger) *dmlog.Handler {
	host, err := os.Hostname()
	if err != nil {
		host = "local"
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	return dmlog.New(dmlog.Options{
		Dir: cfg.Paths.LogDir, Host: host, Level: level,
		OnError: func(err error) { log.Error("log file", "err", err) },
	})
}
