package dht

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/krpc"
)

// Sentinel errors.
var (
	// ErrClosed is returned by operations on a closed node.
	ErrClosed = errors.New("dht: node closed")
	// ErrTimeout is returned by a query that got no answer in time.
	ErrTimeout = errors.New("dht: query timed out")
	// ErrBootstrap is returned by Bootstrap when no node answered.
	ErrBootstrap = errors.New("dht: bootstrap failed: no node answered")
)

// Node is one Mainline DHT node serving on a packet conn.
type Node struct {
	cfg    Config // defaults applied
	conn   net.PacketConn
	fast   addrPortConn // conn, when it has the allocation-free methods
	clock  clock.Clock
	log    *slog.Logger
	addr   netip.AddrPort
	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	done   chan struct{} // closed when the read loop has exited

	mu      sync.Mutex
	closed  bool
	id      [20]byte // changes only to adopt a BEP 42 id (see bep42.go)
	ext     externalIP
	rand    *mrand.Rand
	table   *table
	txs     map[uint16]*pendingTx
	tokens  tokens
	store   itemStore
	peers   peerStore
	limiter rateLimiter
	maint   clock.Timer

	stats counters

	// client is the client side's state (getput*.go): the closest nodes of
	// recent lookups, so a repeated get of one target starts near it.
	client clientState
}

// addrPortConn is implemented by *net.UDPConn and simnet conns; it avoids
// a net.Addr allocation per packet.
type addrPortConn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
}

// New starts a node serving on cfg.Conn. cfg is not modified.
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, conn: cfg.Conn, clock: cfg.Clock, log: cfg.Logger, rand: cfg.Rand, done: make(chan struct{})}
	n.fast, _ = cfg.Conn.(addrPortConn)
	n.addr = localAddrPort(cfg.Conn.LocalAddr())
	n.id = cfg.ID
	if n.id == ([20]byte{}) {
		var rnd [20]byte
		n.fillRand(rnd[:])
		n.id = rnd
		if ip := n.addr.Addr(); ip.IsValid() && !bep42Exempt(ip) {
			n.id = bep42ID(ip, rnd)
		}
	}
	n.fillRand(n.tokens.master[:])
	now := n.clock.Now()
	n.table = newTable(n.id, cfg.MaxFails, now)
	n.store = itemStore{max: cfg.MaxItems, ttl: cfg.ItemTTL}
	n.peers = peerStore{maxPerTorrent: cfg.MaxPeersPerTorrent, maxTorrents: cfg.MaxTorrents, ttl: cfg.PeerTTL}
	n.limiter = rateLimiter{rate: cfg.RateLimit, burst: float64(cfg.RateBurst), byIP: cfg.RateLimitByIP}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if !cfg.DisableBackground {
		n.scheduleMaintenance()
	}
	go n.readLoop()
	return n, nil
}

func localAddrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if a == nil {
		return netip.AddrPort{}
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// fillRand fills b from the node's random source. The caller holds n.mu
// (or is the constructor).
func (n *Node) fillRand(b []byte) {
	for i := 0; i < len(b); i += 8 {
		v := n.rand.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
}

// Close stops the node: the conn is closed, pending queries fail with
// ErrClosed and background work stops.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	if n.maint != nil {
		n.maint.Stop()
	}
	pending := n.txs
	n.txs = nil
	n.mu.Unlock()
	n.cancel()
	for _, p := range pending {
		p.finish(txResult{err: ErrClosed})
	}
	err := n.conn.Close()
	<-n.done
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close conn: %w", err)
	}
	return nil
}

// ID returns the node id.
func (n *Node) ID() [20]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.id
}

// Addr returns the local address of the node's conn.
func (n *Node) Addr() netip.AddrPort { return n.addr }

// Stats are counters and sizes of a node.
type Stats struct {
	Nodes        int    // live nodes in the routing table
	Buckets      int    // buckets of the routing table
	Items        int    // stored BEP 44 items
	Peers        int    // stored announced peers
	PacketsIn    uint64 // packets received
	PacketsOut   uint64 // packets sent
	QueriesIn    uint64 // queries received (before rate limiting)
	QueriesOut   uint64 // queries sent
	Timeouts     uint64 // queries of ours that timed out
	RateLimited  uint64 // queries dropped by the rate limit
	Malformed    uint64 // packets that did not decode
	ErrorsSent   uint64 // KRPC error replies sent
	ItemsStored  uint64 // successful puts handled (stored or refreshed)
	PutsRejected uint64 // puts answered with an error
	// ExternalIP is our IP as reported (BEP 42 `ip`) by at least 3 nodes;
	// invalid until then.
	ExternalIP netip.Addr
}

type counters struct {
	packetsIn, packetsOut, queriesIn, queriesOut, timeouts, rateLimited,
	malformed, errorsSent, itemsStored, putsRejected atomic.Uint64
}

// Stats returns a snapshot of the node's counters.
func (n *Node) Stats() Stats {
	n.mu.Lock()
	s := Stats{Nodes: n.table.len(), Buckets: len(n.table.buckets), Items: n.store.len(), Peers: n.peers.count(), ExternalIP: n.ext.agreed}
	n.mu.Unlock()
	c := &n.stats
	s.PacketsIn, s.PacketsOut = c.packetsIn.Load(), c.packetsOut.Load()
	s.QueriesIn, s.QueriesOut = c.queriesIn.Load(), c.queriesOut.Load()
	s.Timeouts, s.RateLimited, s.Malformed = c.timeouts.Load(), c.rateLimited.Load(), c.malformed.Load()
	s.ErrorsSent, s.ItemsStored, s.PutsRejected = c.errorsSent.Load(), c.itemsStored.Load(), c.putsRejected.Load()
	return s
}

// closest returns up to count nodes of the routing table closest to target,
// in XOR order; nodes with recent timeouts only fill up. For the lookups.
func (n *Node) closest(target [20]byte, count int) []krpc.NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.table.closest(target, count)
}

// nodeAnswered tells the routing table that the node id at addr answered a
// query (query does this itself for its own queries).
func (n *Node) nodeAnswered(id [20]byte, addr netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seenLocked(id, addr, true)
}

// nodeFailed tells the routing table that a query to addr timed out (query
// does this itself for its own queries).
func (n *Node) nodeFailed(addr netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.table.failed(addr)
}

// seenLocked adds or refreshes a node in the routing table, applying the
// BEP 42 policy. n.mu must be held.
func (n *Node) seenLocked(id [20]byte, addr netip.AddrPort, confirmed bool) {
	if addr == n.addr || (n.cfg.EnforceBEP42 && !bep42Valid(id, addr.Addr())) {
		return
	}
	n.table.seen(id, addr, n.clock.Now(), confirmed)
}

// randIntN returns a random int in [0, max) (under n.mu).
func (n *Node) randIntN(max int) int { return n.rand.IntN(max) }
