// Package server is the UDP daemon behind `dataman listen`: it receives the
// camera server's datagrams, queues the frames they announce for a bounded
// pool of workers that take each through the one delivery path, retries
// pending dispatches, sweeps the recent nights in-process, and keeps the
// control files and the systemd conversation. The listen command only turns
// flags and config into Options, builds the dependencies and calls Run.
package server
