package dht

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/dhtdb/dhtdb/krpc"
)

// Ping sends a ping to addr and returns the id the node answered with. The
// node is added to the routing table if it answers.
func (n *Node) Ping(ctx context.Context, addr netip.AddrPort) ([20]byte, error) {
	m, err := n.query(ctx, addr, krpc.MethodPing, &krpc.Args{})
	if err != nil {
		return [20]byte{}, fmt.Errorf("ping %v: %w", addr, err)
	}
	return m.R.ID, nil
}

// AddNode pings addr in the background and adds the node to the routing
// table if it answers. It returns an error only for an invalid address or a
// closed node.
func (n *Node) AddNode(addr netip.AddrPort) error {
	if !addr.IsValid() || addr.Port() == 0 {
		return fmt.Errorf("add node: invalid address %v", addr)
	}
	if n.ctx.Err() != nil {
		return ErrClosed
	}
	go n.Ping(n.ctx, addr) //nolint:errcheck // a node that does not answer is simply not added
	return nil
}

// bootstrapPings is how many times Bootstrap pings a silent bootstrap node.
const bootstrapPings = 3

// Bootstrap joins the network: it pings the Config.Bootstrap nodes (host
// names are resolved) and then looks up our own id, which fills the buckets
// near us. It returns ErrBootstrap if no node answered, and the routing
// table's size otherwise is in Stats.
func (n *Node) Bootstrap(ctx context.Context) error {
	var addrs []netip.AddrPort
	var resolveErr error
	for _, hp := range n.cfg.Bootstrap {
		as, err := resolve(ctx, hp)
		if err != nil {
			resolveErr = err
			continue
		}
		addrs = append(addrs, as...)
	}
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A lost packet must not fail the join: retry a few times.
			for range bootstrapPings {
				if _, err := n.Ping(ctx, a); err == nil || ctx.Err() != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	// The bootstrap nodes told us our external IP (BEP 42 `ip`): a public
	// node takes an id that matches it before it introduces itself.
	n.adoptBEP42ID()
	if _, err := n.findNode(ctx, n.ID()); err != nil && ctx.Err() != nil {
		return fmt.Errorf("bootstrap: %w", ctx.Err())
	}
	// The lookup of our own id fills the buckets near us; one lookup of a
	// random id in each farther bucket fills the rest (as libtorrent does).
	n.mu.Lock()
	var targets [][20]byte
	for i := 0; i < len(n.table.buckets)-1; i++ {
		targets = append(targets, n.table.randomIDInBucket(i, n.rand.Uint64))
	}
	n.mu.Unlock()
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.findNode(ctx, t) //nolint:errcheck // answering nodes land in the table
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return fmt.Errorf("bootstrap: %w", ctx.Err())
	}
	if n.Stats().Nodes == 0 {
		if resolveErr != nil {
			return fmt.Errorf("%w (%w)", ErrBootstrap, resolveErr)
		}
		return ErrBootstrap
	}
	return nil
}

// resolve turns "host:port" into addresses.
func resolve(ctx context.Context, hostport string) ([]netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return []netip.AddrPort{netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}, nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("bootstrap node %q: %w", hostport, err)
	}
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return nil, fmt.Errorf("bootstrap node %q: %w", hostport, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("bootstrap node %q: %w", hostport, err)
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), uint16(p)))
	}
	return out, nil
}

// findNode runs an iterative find_node for target from the routing table
// (used by Bootstrap and bucket refresh), with the lookup driver of the
// client side (traverse, getput_lookup.go). Every answering node enters the
// routing table through query. It returns the (up to K) answering nodes
// closest to target, closest first.
func (n *Node) findNode(ctx context.Context, target [20]byte) ([]krpc.NodeInfo, error) {
	l, err := n.traverse(ctx, target, krpc.MethodFindNode, krpc.Args{Target: target, HasTarget: true}, n.softTimeout(), nil)
	if l == nil {
		return nil, err
	}
	var out []krpc.NodeInfo
	for _, nd := range l.Closest() {
		out = append(out, krpc.NodeInfo{ID: nd.ID, Addr: nd.Addr})
	}
	return out, err
}

// maxPingsPerRound bounds the pings of questionable nodes per maintenance
// round, so a large table that went quiet is not pinged all at once.
const maxPingsPerRound = 8

// scheduleMaintenance arms the next background maintenance round.
func (n *Node) scheduleMaintenance() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	// Jitter spreads the rounds of many nodes in one process.
	d := MaintenanceInterval/2 + time.Duration(n.rand.Int64N(int64(MaintenanceInterval)))
	n.maint = n.clock.AfterFunc(d, func() {
		n.maintain()
		n.scheduleMaintenance()
	})
}

// maintain runs one round of maintenance: it drops expired items and peers,
// pings nodes not heard from for BucketRefresh (and nodes with failures), and
// refreshes buckets without activity for BucketRefresh by a lookup of a
// random id in their range. Queries run in the background.
func (n *Node) maintain() {
	n.adoptBEP42ID()
	now := n.clock.Now()
	var stale []*tableEntry
	var ping []netip.AddrPort
	var refresh [][20]byte
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.store.expire(now)
	n.peers.expire(now)
	for i, b := range n.table.buckets {
		for _, e := range b.nodes {
			if e.fails > 0 || now.Sub(e.lastSeen) >= BucketRefresh {
				stale = append(stale, e)
			}
		}
		if now.Sub(b.changed) >= BucketRefresh && len(refresh) < 2 {
			refresh = append(refresh, n.table.randomIDInBucket(i, n.rand.Uint64))
			b.changed = now // one refresh per period, even if it finds nothing
		}
	}
	// Ping at most maxPingsPerRound per round, the least recently seen first.
	slices.SortFunc(stale, func(a, b *tableEntry) int { return a.lastSeen.Compare(b.lastSeen) })
	for _, e := range stale[:min(len(stale), maxPingsPerRound)] {
		ping = append(ping, e.addr)
	}
	n.mu.Unlock()
	for _, a := range ping {
		go n.Ping(n.ctx, a) //nolint:errcheck // the table records the outcome
	}
	for _, t := range refresh {
		go n.findNode(n.ctx, t) //nolint:errcheck // the table records the outcome
	}
}
