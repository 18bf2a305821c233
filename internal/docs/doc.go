// Package docs renders dataman's man page and shell completions from the
// app definition, and tells when the committed ones have drifted from it.
package docs
