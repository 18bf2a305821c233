// Package commands defines the dataman command line: one file per
// subcommand, assembled in New. An action only turns flags and config into an
// options struct and calls a plain run function that tests can call directly.
package commands
