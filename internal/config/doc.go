// Package config loads dataman's configuration: the YAML file of the MODS
// dataMan server (dataman_MODS1.ini), read unchanged, plus dataman's own
// optional keys, the DATAMAN_* environment and command-line flags, in that
// order of increasing precedence, recording where each value came from.
//
// Unlike dataMan, which treated any non-empty string as true, a flag is only
// Y/yes/true/on/1 or N/no/false/off/0, and every unknown key or bad value is an
// error naming the file, line, key and value.
//
// Relative paths, from any source, are taken from the working directory, so the
// built-in default (everything under ./dataman-data) and the same document
// saved to a file and loaded back give the same configuration.
package config
