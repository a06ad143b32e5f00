package torrentdht

import (
	"context"
	"crypto/sha1"
	"errors"
	"net/netip"
	"sync"
)

// MemNetwork is an in-memory stand-in for the DHT: a shared directory of
// infohash → announced peers. Its nodes implement Node, so that swarm code
// can be tested without a DHT, and a DHT failure can be injected.
type MemNetwork struct {
	mu    sync.Mutex
	peers map[[20]byte]map[netip.AddrPort]struct{}
	fail  error
}

// NewMemNetwork returns an empty MemNetwork.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{peers: make(map[[20]byte]map[netip.AddrPort]struct{})}
}

// SetFailure makes every later lookup fail with err (nil: succeed again).
func (m *MemNetwork) SetFailure(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

// Node returns a node whose announces come from addr (the IP is the peer's
// IP; the port is the node's UDP port).
func (m *MemNetwork) Node(addr netip.AddrPort) *MemNode {
	return &MemNode{net: m, addr: addr, id: sha1.Sum([]byte(addr.String()))}
}

// MemNode is a node of a MemNetwork.
type MemNode struct {
	net  *MemNetwork
	addr netip.AddrPort
	id   [20]byte
}

var _ Node = (*MemNode)(nil)

// ID returns a fixed id derived from the address.
func (n *MemNode) ID() [20]byte { return n.id }

// Addr returns the address given to MemNetwork.Node.
func (n *MemNode) Addr() netip.AddrPort { return n.addr }

// AddNode does nothing: the directory needs no routing.
func (n *MemNode) AddNode(netip.AddrPort) error { return nil }

// Ping answers with a zero id.
func (n *MemNode) Ping(ctx context.Context, _ netip.AddrPort) ([20]byte, error) {
	return [20]byte{}, ctx.Err()
}

// GetPeers returns the peers announced so far for infohash.
func (n *MemNode) GetPeers(ctx context.Context, infohash [20]byte) ([]netip.AddrPort, error) {
	return n.Announce(ctx, infohash, 0, false)
}

// Announce returns the peers announced so far for infohash (other than this
// node's own) and, when port is not 0, adds this node's IP with port.
func (n *MemNode) Announce(ctx context.Context, infohash [20]byte, port int, _ bool) ([]netip.AddrPort, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := n.net
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	if port < 0 || port > 65535 {
		return nil, errors.New("bad port")
	}
	var self netip.AddrPort
	if port != 0 {
		self = netip.AddrPortFrom(n.addr.Addr(), uint16(port))
	}
	var out []netip.AddrPort
	for p := range m.peers[infohash] {
		if p != self {
			out = append(out, p)
		}
	}
	if port != 0 {
		if m.peers[infohash] == nil {
			m.peers[infohash] = make(map[netip.AddrPort]struct{})
		}
		m.peers[infohash][self] = struct{}{}
	}
	return out, nil
}
