package bench

import "net"

// clientEvery makes every clientEvery-th node of the anacrolix-client
// network an anacrolix server (one in 8: 250 of 2000 nodes).
const clientEvery = 8

// mixedImpl builds a network of one implementation in which every
// every-th node is of another, and only those originate operations: it
// measures the client side of one library on the routing of the other.
type mixedImpl struct {
	client, network implementation
	every           int
}

func (m mixedImpl) start(i int, conn net.PacketConn, id [20]byte, seed uint64) (benchNode, error) {
	if m.origin(i) {
		return m.client.start(i, conn, id, seed)
	}
	return m.network.start(i, conn, id, seed)
}

func (m mixedImpl) origin(i int) bool { return i%m.every == 0 }
