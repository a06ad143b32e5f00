package simnet

import "net/netip"

// Stats counts packets (and their payload bytes) on a network or one
// endpoint. For a network, Sent = Delivered + Dropped + InFlight.
type Stats struct {
	Sent, SentBytes           int64 // written by conns
	Delivered, DeliveredBytes int64 // queued at the receiver
	Dropped, DroppedBytes     int64 // lost, silenced, unreachable or queue full
	DroppedLoss               int64 // packets dropped by the Loss probability
	DroppedSilent             int64 // packets from or to a silent endpoint
	DroppedQueue              int64 // packets that found the receive queue full
	DroppedUnreachable        int64 // packets to an address with no endpoint
	InFlight                  int64 // packets waiting for their delay to pass
}

// Stats returns the network's counters.
func (n *Network) Stats() Stats {
	c := &n.stats
	return Stats{
		Sent: c.sent.packets.Load(), SentBytes: c.sent.bytes.Load(),
		Delivered: c.delivered.packets.Load(), DeliveredBytes: c.delivered.bytes.Load(),
		Dropped: c.dropped.packets.Load(), DroppedBytes: c.dropped.bytes.Load(),
		DroppedLoss:        c.droppedLoss.packets.Load(),
		DroppedSilent:      c.droppedSilent.packets.Load(),
		DroppedQueue:       c.droppedQueue.packets.Load(),
		DroppedUnreachable: c.droppedUnreachable.packets.Load(),
		InFlight:           c.inFlight.Load(),
	}
}

// EndpointStats returns what the endpoint listening at addr has sent and had
// delivered (the drop fields are zero); ok is false if nothing listens there.
func (n *Network) EndpointStats(addr netip.AddrPort) (s Stats, ok bool) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	n.mu.Lock()
	c := n.conns[addr]
	n.mu.Unlock()
	if c == nil {
		return Stats{}, false
	}
	return Stats{
		Sent: c.stats.sent.packets.Load(), SentBytes: c.stats.sent.bytes.Load(),
		Delivered: c.stats.delivered.packets.Load(), DeliveredBytes: c.stats.delivered.bytes.Load(),
	}, true
}
