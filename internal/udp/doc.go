// Package udp is the camera server's datagram protocol (dataMan's, spec
// section 8): "proc <path>" and "quit" as UTF-8 text, one command per
// datagram, no reply.
package udp
