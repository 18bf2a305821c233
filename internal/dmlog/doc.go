// Package dmlog writes the log file dataMan kept, for the people and scripts
// that read it: <logDir>/<host[:5]>dm.<CCYYMMDD>.txt with lines
// "2026-01-19 20:13:20,140 | INFO | message", as a log/slog handler. Unlike
// dataMan's, the file follows the observing date as it changes.
package dmlog
