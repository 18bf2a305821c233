// Package sdnotify speaks systemd's notify protocol (sd_notify(3)) for
// Type=notify services: READY=1, STATUS=, WATCHDOG=1 and STOPPING=1, each a
// datagram to $NOTIFY_SOCKET. Outside systemd every call does nothing.
package sdnotify
