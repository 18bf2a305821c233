// Package stall runs file operations on a folder that may hang (a dead NFS
// mount) under a stall timeout, and remembers the folders where an
// operation is still blocked, so that one dead mount costs one blocked
// goroutine and one timeout, not one per look.
package stall
