// Package schedule parses the cron schedules of the sweep, in the config
// and on the command line alike, so both accept exactly the same specs.
package schedule
