package dht

import (
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/dhtdb/dhtdb/krpc"
)

// K is the Kademlia bucket size.
const K = 8

// tableEntry is one node of the routing table or of a replacement cache.
type tableEntry struct {
	id        [20]byte
	addr      netip.AddrPort
	lastSeen  time.Time // last answer to us, or last query from it
	confirmed bool      // it answered one of our queries
	fails     int       // consecutive query timeouts
}

type bucket struct {
	nodes   []*tableEntry // at most K, the live entries
	repl    []*tableEntry // at most K, newest last: candidates for a failed node's slot
	changed time.Time     // last time a node of the bucket was seen or added
}

// table is the Kademlia routing table: buckets[i] holds the nodes whose id
// shares exactly i leading bits with self, except the last bucket, which
// holds every node sharing at least len(buckets)-1 bits. When the last bucket
// (the one containing our own id) is full, it splits. Not safe for concurrent
// use: the node's lock guards it.
type table struct {
	self     [20]byte
	maxFails int
	buckets  []*bucket
	byAddr   map[netip.AddrPort]*tableEntry
}

func newTable(self [20]byte, maxFails int, now time.Time) *table {
	return &table{self: self, maxFails: maxFails, buckets: []*bucket{{changed: now}}}
}

// commonPrefix returns the number of leading bits a and b share (160 if equal).
func commonPrefix(a, b [20]byte) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return i*8 + bits.LeadingZeros8(x)
		}
	}
	return 160
}

// closer reports whether a is closer to target than b (XOR metric).
func closer(target, a, b [20]byte) bool {
	for i := range target {
		da, db := a[i]^target[i], b[i]^target[i]
		if da != db {
			return da < db
		}
	}
	return false
}

func (t *table) bucketIndex(id [20]byte) int {
	return min(commonPrefix(t.self, id), len(t.buckets)-1)
}

// len returns the number of live nodes.
func (t *table) len() int { return len(t.byAddr) }

// seen records that the node id at addr answered a query of ours
// (confirmed) or sent us a query. It returns whether the node is in the live
// table afterwards.
func (t *table) seen(id [20]byte, addr netip.AddrPort, now time.Time, confirmed bool) bool {
	if id == t.self || !addr.IsValid() {
		return false
	}
	if e := t.byAddr[addr]; e != nil {
		if e.id == id {
			e.lastSeen = now
			if confirmed {
				e.confirmed, e.fails = true, 0
			}
			t.buckets[t.bucketIndex(id)].changed = now
			return true
		}
		t.remove(e) // the node at addr changed its id
	}
	for {
		i := t.bucketIndex(id)
		b := t.buckets[i]
		for _, e := range b.nodes {
			if e.id == id {
				// Same id at another address: keep a live, confirmed entry
				// (an id cannot be taken over), else move it.
				if e.confirmed && e.fails == 0 {
					return false
				}
				t.remove(e)
				break
			}
		}
		ne := &tableEntry{id: id, addr: addr, lastSeen: now, confirmed: confirmed}
		if len(b.nodes) < K {
			t.insert(b, ne, now)
			return true
		}
		if i == len(t.buckets)-1 && len(t.buckets) < 160 {
			t.split()
			continue
		}
		// Full bucket: a confirmed newcomer replaces a failing or unconfirmed node.
		if confirmed {
			worst := -1
			for j, e := range b.nodes {
				if e.fails > 0 || !e.confirmed {
					if worst < 0 || e.fails > b.nodes[worst].fails ||
						(e.fails == b.nodes[worst].fails && e.lastSeen.Before(b.nodes[worst].lastSeen)) {
						worst = j
					}
				}
			}
			if worst >= 0 {
				t.remove(b.nodes[worst])
				t.insert(b, ne, now)
				return true
			}
		}
		t.addReplacement(b, ne)
		return false
	}
}

func (t *table) insert(b *bucket, e *tableEntry, now time.Time) {
	b.nodes = append(b.nodes, e)
	b.changed = now
	if t.byAddr == nil {
		t.byAddr = make(map[netip.AddrPort]*tableEntry)
	}
	t.byAddr[e.addr] = e
	b.repl = slices.DeleteFunc(b.repl, func(r *tableEntry) bool { return r.addr == e.addr })
}

func (t *table) addReplacement(b *bucket, e *tableEntry) {
	b.repl = slices.DeleteFunc(b.repl, func(r *tableEntry) bool { return r.addr == e.addr || r.id == e.id })
	if len(b.repl) >= K {
		b.repl = b.repl[1:]
	}
	b.repl = append(b.repl, e)
}

// remove deletes a live entry and promotes the newest replacement, if any.
func (t *table) remove(e *tableEntry) {
	b := t.buckets[t.bucketIndex(e.id)]
	i := slices.Index(b.nodes, e)
	if i < 0 {
		return
	}
	b.nodes = slices.Delete(b.nodes, i, i+1)
	delete(t.byAddr, e.addr)
	// Promote the newest confirmed replacement, else the newest one.
	best := -1
	for j := len(b.repl) - 1; j >= 0; j-- {
		if best < 0 || (b.repl[j].confirmed && !b.repl[best].confirmed) {
			best = j
		}
	}
	if best >= 0 {
		r := b.repl[best]
		b.repl = slices.Delete(b.repl, best, best+1)
		b.nodes = append(b.nodes, r)
		t.byAddr[r.addr] = r
	}
}

// split divides the last bucket: the nodes sharing one more bit with self
// move to a new last bucket.
func (t *table) split() {
	last := len(t.buckets) - 1
	old := t.buckets[last]
	nb := &bucket{changed: old.changed}
	t.buckets = append(t.buckets, nb)
	keep := old.nodes[:0:0]
	for _, e := range old.nodes {
		if commonPrefix(t.self, e.id) > last {
			nb.nodes = append(nb.nodes, e)
		} else {
			keep = append(keep, e)
		}
	}
	old.nodes = keep
	keepRepl := old.repl[:0:0]
	for _, e := range old.repl {
		if commonPrefix(t.self, e.id) > last {
			nb.repl = append(nb.repl, e)
		} else {
			keepRepl = append(keepRepl, e)
		}
	}
	old.repl = keepRepl
	for _, b := range []*bucket{old, nb} {
		for len(b.nodes) < K && len(b.repl) > 0 {
			r := b.repl[len(b.repl)-1]
			b.repl = b.repl[:len(b.repl)-1]
			b.nodes = append(b.nodes, r)
			t.byAddr[r.addr] = r
		}
	}
}

// failed records a query timeout of the node at addr. After maxFails
// consecutive timeouts the node is evicted (and a replacement promoted). It
// returns whether the node was evicted.
func (t *table) failed(addr netip.AddrPort) bool {
	e := t.byAddr[addr]
	if e == nil {
		for _, b := range t.buckets {
			b.repl = slices.DeleteFunc(b.repl, func(r *tableEntry) bool { return r.addr == addr })
		}
		return false
	}
	e.fails++
	if e.fails >= t.maxFails {
		t.remove(e)
		return true
	}
	return false
}

// closest returns up to count live nodes closest to target, nodes without
// failures first (a failing node is returned only to fill up).
func (t *table) closest(target [20]byte, count int) []krpc.NodeInfo {
	if count <= 0 || len(t.byAddr) == 0 {
		return nil
	}
	all := make([]*tableEntry, 0, len(t.byAddr))
	for _, e := range t.byAddr {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b *tableEntry) int {
		if (a.fails > 0) != (b.fails > 0) {
			if a.fails > 0 {
				return 1
			}
			return -1
		}
		if closer(target, a.id, b.id) {
			return -1
		}
		if closer(target, b.id, a.id) {
			return 1
		}
		return 0
	})
	out := make([]krpc.NodeInfo, 0, min(count, len(all)))
	for _, e := range all[:min(count, len(all))] {
		out = append(out, krpc.NodeInfo{ID: e.id, Addr: e.addr})
	}
	// Restore pure distance order among the chosen ones.
	slices.SortFunc(out, func(a, b krpc.NodeInfo) int {
		if closer(target, a.ID, b.ID) {
			return -1
		}
		if closer(target, b.ID, a.ID) {
			return 1
		}
		return 0
	})
	return out
}

// randomIDInBucket returns an id that falls in bucket i.
func (t *table) randomIDInBucket(i int, rnd func() uint64) [20]byte {
	var id [20]byte
	for j := 0; j < 20; j += 8 {
		v := rnd()
		for k := 0; k < 8 && j+k < 20; k++ {
			id[j+k] = byte(v >> (8 * k))
		}
	}
	// Copy the first i bits of self, then flip bit i (unless last bucket).
	for b := 0; b < i && b < 160; b++ {
		mask := byte(0x80) >> (b % 8)
		id[b/8] = id[b/8]&^mask | t.self[b/8]&mask
	}
	if i < len(t.buckets)-1 && i < 160 {
		mask := byte(0x80) >> (i % 8)
		id[i/8] = id[i/8]&^mask | (^t.self[i/8])&mask
	}
	return id
}
