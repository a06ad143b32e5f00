package simnet

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// conn is one endpoint of a Network. It implements net.PacketConn.
type conn struct {
	net   *Network
	addr  netip.AddrPort
	stats counters // sent and delivered only

	mu            sync.Mutex
	queue         []packet
	closed        bool
	readDeadline  time.Time
	writeDeadline time.Time
	deadlineMoved chan struct{} // closed and replaced when readDeadline changes

	notify   chan struct{} // capacity 1: "the queue may be non-empty"
	closedCh chan struct{}
}

var _ net.PacketConn = (*conn)(nil)

func newConn(n *Network, addr netip.AddrPort) *conn {
	return &conn{
		net:           n,
		addr:          addr,
		deadlineMoved: make(chan struct{}),
		notify:        make(chan struct{}, 1),
		closedCh:      make(chan struct{}),
	}
}

func (c *conn) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// enqueue adds a delivered packet; false means the queue was full or the
// conn closed.
func (c *conn) enqueue(pk packet) bool {
	c.mu.Lock()
	if c.closed || len(c.queue) >= c.net.cfg.QueueLen {
		c.mu.Unlock()
		return false
	}
	c.queue = append(c.queue, pk)
	c.mu.Unlock()
	c.signal()
	return true
}

func (c *conn) opError(op string, remote net.Addr, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.LocalAddr(), Addr: remote, Err: err}
}

// ReadFromUDPAddrPort reads one packet into b, like
// (*net.UDPConn).ReadFromUDPAddrPort. A packet longer than b is truncated.
func (c *conn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, netip.AddrPort{}, c.opError("read", nil, net.ErrClosed)
		}
		if len(c.queue) > 0 {
			pk := c.queue[0]
			c.queue[0] = packet{}
			c.queue = c.queue[1:]
			more := len(c.queue) > 0
			c.mu.Unlock()
			if more {
				c.signal() // another reader may be waiting
			}
			return copy(b, pk.data), pk.from, nil
		}
		deadline, moved := c.readDeadline, c.deadlineMoved
		c.mu.Unlock()

		if !c.wait(deadline, moved) {
			return 0, netip.AddrPort{}, c.opError("read", nil, os.ErrDeadlineExceeded)
		}
	}
}

// wait blocks until a packet may be queued, the conn closes or the deadline
// moves; false means the deadline passed.
func (c *conn) wait(deadline time.Time, moved <-chan struct{}) bool {
	var expired <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return false
		}
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-c.notify:
	case <-c.closedCh:
	case <-moved:
	case <-expired:
		return false
	}
	return true
}

// ReadFrom reads one packet; the address is a *net.UDPAddr.
func (c *conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// WriteToUDPAddrPort sends b to addr, like (*net.UDPConn).WriteToUDPAddrPort.
// Writes never block. A packet to an address where nobody listens vanishes,
// as it would on a real network.
func (c *conn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	to := netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	remote := func() net.Addr { return net.UDPAddrFromAddrPort(to) }
	if !to.Addr().Is4() || to.Port() == 0 {
		return 0, c.opError("write", remote(), fmt.Errorf("%w: %v", ErrBadAddr, addr))
	}
	if len(b) > MaxPacketSize {
		return 0, c.opError("write", remote(), ErrTooBig)
	}
	c.mu.Lock()
	closed, deadline := c.closed, c.writeDeadline
	c.mu.Unlock()
	if closed {
		return 0, c.opError("write", remote(), net.ErrClosed)
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return 0, c.opError("write", remote(), os.ErrDeadlineExceeded)
	}
	c.net.send(c, to, append([]byte(nil), b...))
	return len(b), nil
}

// WriteTo sends b to addr: a *net.UDPAddr, or any net.Addr whose String()
// is "ip:port".
func (c *conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var to netip.AddrPort
	switch a := addr.(type) {
	case *net.UDPAddr:
		if a == nil {
			return 0, c.opError("write", nil, ErrBadAddr)
		}
		to = a.AddrPort()
	case nil:
		return 0, c.opError("write", nil, ErrBadAddr)
	default:
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return 0, c.opError("write", addr, fmt.Errorf("%w: %v", ErrBadAddr, err))
		}
		to = ap
	}
	return c.WriteToUDPAddrPort(b, to)
}

// Close closes the endpoint; blocked and later reads and writes fail with an
// error wrapping net.ErrClosed.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opError("close", nil, net.ErrClosed)
	}
	c.closed = true
	c.queue = nil
	close(c.closedCh)
	c.mu.Unlock()
	c.net.forget(c)
	return nil
}

// LocalAddr returns the endpoint's address as a *net.UDPAddr.
func (c *conn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.addr) }

// SetDeadline sets the read and write deadlines.
func (c *conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline for reads, including a read blocked now.
// The zero time means no deadline.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("set", nil, net.ErrClosed)
	}
	c.readDeadline = t
	close(c.deadlineMoved)
	c.deadlineMoved = make(chan struct{})
	return nil
}

// SetWriteDeadline sets the deadline for writes. Writes never block, so only
// a deadline already past matters.
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("set", nil, net.ErrClosed)
	}
	c.writeDeadline = t
	return nil
}
