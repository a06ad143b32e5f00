package dht

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/dhtdb/dhtdb/dht/lookup"
	"github.com/dhtdb/dhtdb/krpc"
)

// Tuning of the client-side lookups (Get, Put, GetPeers, Announce).
const (
	// DefaultSoftTimeout is how long a lookup waits for one answer before it
	// treats the node as stalled: it asks another node in its place and
	// stops waiting for it to finish, while still taking a late answer. The
	// hard timeout (Config.QueryTimeout) is when the query is abandoned.
	// A lookup raises it to 3/2 of the median RTT it measures, up to 4x, on
	// a network slower than the 40-300 ms it is tuned for.
	DefaultSoftTimeout = 250 * time.Millisecond
	// DefaultLookupAlpha is the number of outstanding, not stalled, queries
	// of one lookup.
	DefaultLookupAlpha = 6
	// lookupSeeds is how many nodes of the routing table start a lookup.
	lookupSeeds = 3 * lookup.DefaultK
	// putTargets is how many of the closest nodes a put or announce stores on.
	putTargets = lookup.DefaultK
	// putSoftFactor/2 scales the soft timeout of a put's lookup.
	putSoftFactor = 3
)

// lookupEvent is what a query goroutine or a soft-timeout timer reports to
// the driver loop.
type lookupEvent struct {
	addr  netip.AddrPort
	stall bool
	msg   *krpc.Msg
	err   error
}

// traverse runs one iterative lookup of target, sending query q with a copy
// of args to each node the state machine picks, with soft as the soft
// timeout (raised on a slow network, see rttSamples). onReply is called, in the
// calling goroutine, for every answer the lookup accepts, with the node's
// id and address and the round-trip time of the query. traverse returns the finished lookup (for Closest and
// Responders) as soon as it is done; the queries still outstanding are
// cancelled. The error is the context's if it ended first, or ErrClosed.
func (n *Node) traverse(ctx context.Context, target [20]byte, q string, args krpc.Args, soft time.Duration,
	onReply func(from lookup.Node, r *krpc.Return, rtt time.Duration)) (*lookup.Lookup, error) {
	if n.ctx.Err() != nil {
		return nil, ErrClosed
	}
	var seeds []lookup.Node
	for _, ni := range n.closest(target, lookupSeeds) {
		seeds = append(seeds, lookup.Node{ID: ni.ID, Addr: ni.Addr})
	}
	// The closest answerers of the last lookup of target, if any: a repeated
	// lookup (a poll) then ends after about K queries (see clientState).
	seeds = append(seeds, n.client.recall(target)...)
	l, err := lookup.New(lookup.Config{Target: target, Self: n.ID(), Alpha: n.lookupAlpha()}, seeds)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan lookupEvent, 2*lookupSeeds)
	report := func(ev lookupEvent) {
		select {
		case events <- ev:
		case <-ctx.Done():
		}
	}
	var rtts rttSamples
	sent := map[netip.AddrPort]time.Time{}
	send := func(nodes []lookup.Node) {
		for _, nd := range nodes {
			addr := nd.Addr
			sent[addr] = n.cfg.Clock.Now()
			timer := n.cfg.Clock.AfterFunc(rtts.softTimeout(soft), func() { report(lookupEvent{addr: addr, stall: true}) })
			a := args // each query gets its own copy: query may fill in fields
			go func() {
				msg, err := n.query(ctx, addr, q, &a)
				timer.Stop()
				report(lookupEvent{addr: addr, msg: msg, err: err})
			}()
		}
	}
	send(l.Next())
	for !l.Done() {
		select {
		case <-ctx.Done():
			return l, ctx.Err()
		case ev := <-events:
			var rtt time.Duration
			if ev.err == nil && ev.msg != nil {
				rtt = n.cfg.Clock.Now().Sub(sent[ev.addr])
				rtts.add(rtt)
			}
			n.lookupStep(l, ev, rtt, onReply)
		}
		send(l.Next())
	}
	if n.ctx.Err() != nil {
		return l, ErrClosed // the answers stopped because the node closed
	}
	if q != krpc.MethodFindNode { // routing-table upkeep is not worth remembering
		n.client.remember(target, l.Closest())
	}
	return l, nil
}

func (n *Node) lookupStep(l *lookup.Lookup, ev lookupEvent, rtt time.Duration,
	onReply func(lookup.Node, *krpc.Return, time.Duration)) {
	var kerr *krpc.Error
	switch {
	case ev.stall:
		l.OnStalled(ev.addr)
	case ev.err == nil && ev.msg != nil && ev.msg.R != nil:
		r := ev.msg.R
		var closer []lookup.Node
		for _, ni := range r.AllNodes() {
			if ni.Addr != n.addr { // our own address under another id
				closer = append(closer, lookup.Node{ID: ni.ID, Addr: ni.Addr})
			}
		}
		if l.OnResponse(ev.addr, r.ID, closer) && onReply != nil {
			onReply(lookup.Node{ID: r.ID, Addr: ev.addr}, r, rtt)
		}
	case errors.As(ev.err, &kerr):
		l.OnError(ev.addr)
	default:
		l.OnTimeout(ev.addr)
	}
}

// tokenHolders returns the closest responders that gave a token, at most
// putTargets of them.
func tokenHolders(l *lookup.Lookup, tokens map[netip.AddrPort]writeToken) []lookup.Node {
	var out []lookup.Node
	for _, nd := range l.Responders() {
		if len(tokens[nd.Addr].token) > 0 {
			out = append(out, nd)
			if len(out) == putTargets {
				break
			}
		}
	}
	return out
}

func (n *Node) softTimeout() time.Duration { return n.cfg.SoftTimeout }
func (n *Node) lookupAlpha() int           { return n.cfg.LookupAlpha }

// putSoftTimeout is the soft timeout of a put's lookup: longer than a get's,
// because a put is worth a little latency to reach the truly closest nodes,
// slow ones included.
func (n *Node) putSoftTimeout() time.Duration { return n.cfg.SoftTimeout * putSoftFactor / 2 }

// rttSamples are the round-trip times of the answers of one lookup. They
// adapt the soft timeout to the network: on a network slower than the one
// the default is tuned for, stalling every node would end lookups on the
// fastest nodes instead of the closest.
type rttSamples []time.Duration

func (r *rttSamples) add(d time.Duration) { *r = append(*r, d) }

// softTimeout returns base, or 3/2 of the median RTT seen so far if that is
// larger (once 3 answers are in), capped at 4 times base.
func (r rttSamples) softTimeout(base time.Duration) time.Duration {
	if len(r) < 3 {
		return base
	}
	s := slices.Clone(r)
	slices.Sort(s)
	return min(max(base, s[len(s)/2]*3/2), 4*base)
}
