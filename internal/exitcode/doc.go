// Package exitcode defines dataman's documented exit statuses and the error
// type that carries one from a command to main, the only place that exits.
package exitcode
