// Package lookup is the iterative Kademlia lookup of the DHT, as a pure state
// machine: no sockets, goroutines or clocks inside (the shape of etcd's raft
// and geth's discovery). The driver in package dht does the I/O and the
// timing; this package only decides whom to ask next and when to stop, so
// every rule below is tested by scripted scenarios, a simulated 2000-node
// topology in virtual time and a fuzz target, without a network or a wall
// clock.
//
// It is written here rather than taken from anacrolix/dht's traversal
// because that one owns its goroutines and timing, has no notion of a slow
// (stalled) node that should widen the search without being forgotten, and
// its getput waits for the whole traversal to run dry: the latency and
// store-on-the-closest figures of `dhtdb bench dht` come from exactly these rules.
//
// # Use
//
//	l, err := lookup.New(lookup.Config{Target: t, Self: self}, seeds)
//	send(l.Next())              // the first Alpha queries
//	for !l.Done() {
//		// on each event, one of:
//		l.OnResponse(addr, id, closerNodes)
//		l.OnError(addr)         // KRPC error reply
//		l.OnStalled(addr)       // soft timeout: slow, ask someone else too
//		l.OnTimeout(addr)       // hard timeout: the node failed
//		send(l.Next())
//	}
//	put(l.Closest())            // the K closest nodes that answered
//
// Per-node payloads (values, tokens, peers) are the caller's business: it
// keeps them by address and asks Closest which nodes count.
//
// # Rules
//
// Candidates are kept sorted by XOR distance to the target. A node is
// deduplicated by id and by address (the first report wins; a later node
// that reuses either is ignored), nodes with our own id or an unusable
// address (invalid, port 0, unspecified, multicast) are ignored, and the set
// is capped at MaxCandidates: a newcomer evicts the farthest unqueried node
// (or an answered one outside the K closest answered) only if it is closer.
// MaxQueries bounds the queries of one lookup against a hostile network
// that keeps inventing closer nodes.
//
// A queried node is waiting, then stalled (soft timeout), then answered or
// failed (error reply or hard timeout). Next walks the candidates from the
// closest, skips stalled ones, and queries the unqueried nodes it meets
// before K answered ones, while fewer than Alpha queries are waiting. A
// waiting node does not fill that window, since it may turn out silent: up
// to Speculate nodes past the K closest live candidates are asked already,
// so a run of silent nodes near the target costs one soft timeout instead
// of one each. A stalled query frees its slot and widens the lookup by one
// node, yet its late answer is still used.
//
// Termination: the lookup is done as soon as, walking from the closest live
// (not failed) candidate and skipping stalled ones, K answered nodes are met
// before any unqueried or waiting node. A node that is slow past the soft
// timeout thus never delays a lookup whose K closest responsive nodes have
// answered, but it is waited for while it could still matter: an unqueried
// or waiting (not yet stalled) node closer than the K-th answer blocks
// termination. If fewer than K nodes can answer at all (a small network),
// the lookup ends when nothing is left to query and nothing, stalled or not,
// is in flight. The correctness argument is Kademlia's usual one: the K
// closest answered nodes each returned their K closest, so a node closer
// than them that only a stalled node knows about is unlikely, and a put
// still reaches K answering nodes around the target.
//
// An answer carrying a different id than the one the node was known by
// re-keys it (the answer is authoritative), unless that id is ours or
// already taken by another node, in which case the node is failed.
package lookup
