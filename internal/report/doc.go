// Package report is the one voice of the batch commands: each result is
// said once — a failure on stderr, as it happens, with one prefix
// ("dataman: error: <file>: <step>: <reason>"), above the progress bar on
// a terminal; results and the summary on stdout.
package report
