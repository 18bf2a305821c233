// Command dataman conditions, stores and delivers raw CCD frames; see
// "dataman help" and the man page.
package main
