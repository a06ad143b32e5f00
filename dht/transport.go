package dht

import (
	"errors"
	"net"
	"net/netip"

	"github.com/dhtdb/dhtdb/krpc"
)

// maxPacket is the read buffer size; KRPC packets fit in one UDP datagram of
// a 1500-byte path.
const maxPacket = 2048

func (n *Node) readLoop() {
	defer close(n.done)
	buf := make([]byte, maxPacket)
	fails := 0
	for {
		var (
			sz   int
			from netip.AddrPort
			err  error
		)
		if n.fast != nil {
			sz, from, err = n.fast.ReadFromUDPAddrPort(buf)
		} else {
			var a net.Addr
			sz, a, err = n.conn.ReadFrom(buf)
			from = localAddrPort(a)
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || n.ctx.Err() != nil {
				return
			}
			if fails++; fails > 1000 {
				n.log.Error("dht: read loop stops after repeated errors", "err", err)
				return
			}
			continue
		}
		fails = 0
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		n.stats.packetsIn.Add(1)
		n.handlePacket(buf[:sz], from)
	}
}

// handlePacket decodes and dispatches one packet. The packet buffer is reused
// after it returns: whatever is kept is copied.
func (n *Node) handlePacket(pkt []byte, from netip.AddrPort) {
	if !from.IsValid() || from.Port() == 0 {
		return
	}
	m, err := krpc.Decode(pkt)
	if err != nil {
		n.stats.malformed.Add(1)
		if m != nil && m.Y == krpc.TypeQuery && !n.cfg.ReadOnly {
			n.stats.queriesIn.Add(1)
			if n.allow(from) {
				n.send(from, errorReply(m.T, krpc.CodeProtocol, "Protocol Error: "+err.Error()))
			}
		}
		return
	}
	switch m.Y {
	case krpc.TypeQuery:
		n.stats.queriesIn.Add(1)
		if reply := n.handleQuery(from, m); reply != nil {
			n.send(from, reply)
		}
	case krpc.TypeResponse, krpc.TypeError:
		n.handleReply(from, m, pkt)
	}
}

func errorReply(t []byte, code int, msg string) *krpc.Msg {
	return &krpc.Msg{T: t, Y: krpc.TypeError, E: &krpc.Error{Code: code, Msg: msg}}
}

// send encodes and writes m to addr.
func (n *Node) send(addr netip.AddrPort, m *krpc.Msg) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	if m.Y == krpc.TypeError {
		n.stats.errorsSent.Add(1)
	}
	return n.write(b, addr)
}

func (n *Node) write(b []byte, addr netip.AddrPort) error {
	var err error
	if n.fast != nil {
		_, err = n.fast.WriteToUDPAddrPort(b, addr)
	} else {
		_, err = n.conn.WriteTo(b, net.UDPAddrFromAddrPort(addr))
	}
	if err != nil {
		return err
	}
	n.stats.packetsOut.Add(1)
	return nil
}

// allow applies the per-source rate limit to one incoming query.
func (n *Node) allow(from netip.AddrPort) bool {
	n.mu.Lock()
	ok := n.limiter.allow(from, n.clock.Now())
	n.mu.Unlock()
	if !ok {
		n.stats.rateLimited.Add(1)
	}
	return ok
}
