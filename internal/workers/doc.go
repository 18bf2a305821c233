// Package workers runs one function over many items on a bounded number of
// goroutines: the files of a verify, a condition or a sweep.
package workers
