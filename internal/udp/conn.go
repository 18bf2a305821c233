package udp

import (
	"context"
	"net"
	"net/netip"
	"slices"
)

// recvBuffer asks the kernel to hold a burst of datagrams while the reader
// is busy; the kernel caps it at net.core.rmem_max.
const recvBuffer = 4 << 20

// Conn is a bound UDP socket that reads whole datagrams.
type Conn struct {
	c   *net.UDPConn
	buf []byte
}

// Listen binds the UDP address addr ("host:port"; port 0 picks a free one).
func Listen(ctx context.Context, addr string) (*Conn, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	_ = c.SetReadBuffer(recvBuffer) // best effort: a smaller buffer still works
	return &Conn{c: c, buf: make([]byte, MaxDatagram+1)}, nil
}

// Addr is the address the socket is bound to, with the real port when 0
// was asked for.
func (c *Conn) Addr() netip.AddrPort {
	return c.c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Read waits for the next datagram and returns its sender and payload. The
// payload is only valid until the next Read. After Close it returns an error
// wrapping net.ErrClosed.
func (c *Conn) Read() (netip.AddrPort, []byte, error) {
	n, from, err := c.c.ReadFromUDPAddrPort(c.buf)
	if err != nil {
		return netip.AddrPort{}, nil, err
	}
	return from, c.buf[:n], nil
}

// Close closes the socket, making a blocked Read return.
func (c *Conn) Close() error { return c.c.Close() }

// Allowed reports whether from is one of peers (IP addresses as the
// configuration normalises them). An IPv4 sender seen through an IPv6 socket
// (::ffff:127.0.0.1) counts as its IPv4 address.
func Allowed(peers []string, from netip.AddrPort) bool {
	a := from.Addr().Unmap().WithZone("")
	return slices.ContainsFunc(peers, func(p string) bool {
		pa, err := netip.ParseAddr(p)
		return err == nil && pa.Unmap().WithZone("") == a
	})
}
