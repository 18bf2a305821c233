// Package server is the UDP daemon behind `dataman listen`. It receives the
// camera server's datagrams, checks that each announced raw file is there
// and complete before queuing it (a request for a file not there yet waits
// in a bounded watch set, on a timer, holding neither a worker nor a queue
// slot), and has a bounded pool of workers take the queued files through
// the one delivery path. It also retries pending dispatches, sweeps the
// recent nights in-process, pings the systemd watchdog, keeps the control
// files, rate-limits what a sender can make it log, and saves the requests
// it has not finished when it stops, for the next start to take up at once.
//
// The listen command only turns flags and config into Options, builds the
// dependencies and calls Run.
package server
