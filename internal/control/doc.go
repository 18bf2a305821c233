// Package control keeps the CFHT-style control files of a long-running
// dataman daemon in its state directory: .pid with the process id, and
// .status with what it is doing, present only while it runs. An flock on a
// lock file there keeps a second instance out; the lock dies with the
// process, so a .pid left by a crash never blocks a restart.
package control
