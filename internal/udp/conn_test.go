package udp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

// The largest datagram IPv4 carries arrives whole; dataMan cut everything
// after 1024 bytes.
func TestConnReadsWholeDatagrams(t *testing.T) {
	c, err := Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Addr().Addr().IsLoopback() || c.Addr().Port() == 0 {
		t.Fatalf("bound to %v", c.Addr())
	}
	for _, size := range []int{1, 1024, 1025, 65507} {
		msg := bytes.Repeat([]byte{'a'}, size)
		msg[size-1] = 'z'
		send(t, c.Addr(), msg)
		from, got, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Errorf("sent %d bytes, read %d", size, len(got))
		}
		if !from.Addr().IsLoopback() {
			t.Errorf("sender %v", from)
		}
	}
	c.Close()
	if _, _, err := c.Read(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
}

func send(t *testing.T, to netip.AddrPort, msg []byte) {
	t.Helper()
	s, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write(msg); err != nil {
		t.Fatal(err)
	}
}

func TestAllowed(t *testing.T) {
	peers := []string{"127.0.0.1", "::1", "192.168.139.131"}
	cases := []struct {
		from string
		want bool
	}{
		{"127.0.0.1:5000", true},
		{"[::ffff:127.0.0.1]:5000", true},
		{"[::1]:5000", true},
		{"192.168.139.131:1", true},
		{"192.168.139.132:1", false},
		{"127.0.0.2:5000", false},
		{"[fe80::1%lo]:5000", false},
	}
	for _, c := range cases {
		if got := Allowed(peers, netip.MustParseAddrPort(c.from)); got != c.want {
			t.Errorf("Allowed(%s) = %v", c.from, got)
		}
	}
	if Allowed(nil, netip.MustParseAddrPort("127.0.0.1:1")) {
		t.Error("an empty list allows a peer")
	}
}

// An IPv6 server address works too (the config allows one), on ::1.
func TestConnIPv6(t *testing.T) {
	c, err := Listen(context.Background(), "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer c.Close()
	send(t, c.Addr(), []byte("quit"))
	from, got, err := c.Read()
	if err != nil || string(got) != "quit" || !from.Addr().Is6() {
		t.Fatalf("read %q from %v: %v", got, from, err)
	}
	if !Allowed([]string{"::1"}, from) || Allowed([]string{"127.0.0.1"}, from) {
		t.Errorf("peer check of %v", from)
	}
}
