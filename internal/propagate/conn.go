package propagate

import (
	"net"
	"net/netip"
	"sync/atomic"
)

// countingConn is a UDP socket that counts the packets and bytes it carries.
type countingConn struct {
	*net.UDPConn
	packets, bytes atomic.Int64
}

func (c *countingConn) add(n int, err error) {
	if err == nil {
		c.packets.Add(1)
		c.bytes.Add(int64(n))
	}
}

func (c *countingConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := c.UDPConn.ReadFrom(b)
	c.add(n, err)
	return n, a, err
}

func (c *countingConn) WriteTo(b []byte, a net.Addr) (int, error) {
	n, err := c.UDPConn.WriteTo(b, a)
	c.add(n, err)
	return n, err
}

func (c *countingConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, a, err := c.UDPConn.ReadFromUDPAddrPort(b)
	c.add(n, err)
	return n, a, err
}

func (c *countingConn) WriteToUDPAddrPort(b []byte, a netip.AddrPort) (int, error) {
	n, err := c.UDPConn.WriteToUDPAddrPort(b, a)
	c.add(n, err)
	return n, err
}

func listenCounting() (*countingConn, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	return &countingConn{UDPConn: c}, nil
}
