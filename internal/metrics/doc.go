// Package metrics is the Prometheus view of dataman listen: counters the
// server bumps where it logs an outcome, gauges read at scrape time, and
// the HTTP server of /metrics and /healthz, on a private registry.
package metrics
