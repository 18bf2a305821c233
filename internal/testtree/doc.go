// Package testtree describes a directory tree for tests that must prove a
// command changed nothing: every path with its mode, size, modification
// time and, for a regular file, the SHA-256 of its content.
package testtree
