package dht

import (
	"bytes"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/krpc"
)

// storedItem is one BEP 44 item held by the storing side.
type storedItem struct {
	item    bep44.Item
	lastPut time.Time // last put that stored or refreshed it
	expires time.Time
}

// itemStore is the bounded BEP 44 storage of a node. It holds only verified
// items (the put handler verifies before calling put). When full, a new
// target evicts the least recently put item (libtorrent evicts the item
// with the fewest recent announcers, which for one-put-per-interval items is
// the same thing). Expired items are never returned. It is pure: the caller
// passes the time and holds the node's lock.
//
// A mutable item that expires or is evicted leaves a tombstone with its seq
// (for tombstoneTTLFactor times the item TTL, at most max tombstones), so
// that a replay of an older signed item is still refused with 302 after
// the newer one is gone.
type itemStore struct {
	max   int
	ttl   time.Duration
	items map[[20]byte]*storedItem
	tombs map[[20]byte]tombstone
}

// tombstoneTTLFactor times the item TTL is how long the seq of a gone
// mutable item is remembered (24 h with the default TTL).
const tombstoneTTLFactor = 12

type tombstone struct {
	seq     int64
	expires time.Time
}

// get returns the live item stored under target, or nil.
func (s *itemStore) get(target [20]byte, now time.Time) *storedItem {
	it := s.items[target]
	if it == nil {
		return nil
	}
	if !now.Before(it.expires) {
		s.drop(target, it, now)
		return nil
	}
	return it
}

// drop removes an item, leaving a tombstone if it is mutable.
func (s *itemStore) drop(target [20]byte, it *storedItem, now time.Time) {
	delete(s.items, target)
	if !it.item.Mutable {
		return
	}
	if s.tombs == nil {
		s.tombs = make(map[[20]byte]tombstone)
	}
	if _, ok := s.tombs[target]; !ok && len(s.tombs) >= s.max {
		// Forget the tombstone closest to its end.
		var victim [20]byte
		var at time.Time
		first := true
		for t, tb := range s.tombs {
			if first || tb.expires.Before(at) {
				victim, at, first = t, tb.expires, false
			}
		}
		delete(s.tombs, victim)
	}
	s.tombs[target] = tombstone{seq: it.item.Seq, expires: now.Add(tombstoneTTLFactor * s.ttl)}
}

// put stores a verified item. cas is the put's `cas`, if hasCAS. It returns 0
// on success (stored or refreshed) or a KRPC/BEP 44 error code and message:
//   - 301 when cas is given and an item is stored whose seq differs from cas
//     (nothing stored: no CAS check, as libtorrent);
//   - 302 when seq is lower than the stored seq, or equal with another v
//     (BEP 44: an equal seq must carry the same value, which only refreshes);
//   - 201 when the target holds an item of the other kind.
func (s *itemStore) put(it bep44.Item, cas int64, hasCAS bool, now time.Time) (int, string) {
	target := it.Target()
	cur := s.get(target, now)
	if cur != nil && cur.item.Mutable != it.Mutable {
		return krpc.CodeGeneric, "target holds an item of the other kind"
	}
	if it.Mutable && cur == nil {
		if tb, ok := s.tombs[target]; ok {
			if !now.Before(tb.expires) {
				delete(s.tombs, target)
			} else if it.Seq < tb.seq {
				return bep44.CodeSeqTooLow, "sequence number less than a value seen before"
			}
		}
	}
	if it.Mutable && cur != nil {
		if hasCAS && cur.item.Seq != cas {
			return bep44.CodeCASMismatch, "CAS mismatch"
		}
		if it.Seq < cur.item.Seq {
			return bep44.CodeSeqTooLow, "sequence number less than current"
		}
		if it.Seq == cur.item.Seq && !bytes.Equal(it.V, cur.item.V) {
			return bep44.CodeSeqTooLow, "sequence number not greater than current for a different value"
		}
	}
	if cur != nil {
		if it.Mutable {
			cur.item = cloneItem(it)
		}
		cur.lastPut, cur.expires = now, now.Add(s.ttl)
		return 0, ""
	}
	if s.items == nil {
		s.items = make(map[[20]byte]*storedItem)
	}
	if len(s.items) >= s.max {
		s.expire(now)
	}
	if len(s.items) >= s.max {
		s.evictOne(now)
	}
	s.items[target] = &storedItem{item: cloneItem(it), lastPut: now, expires: now.Add(s.ttl)}
	return 0, ""
}

// evictOne removes the least recently put item.
func (s *itemStore) evictOne(now time.Time) {
	var oldest [20]byte
	var oldestAt time.Time
	first := true
	for t, it := range s.items {
		if first || it.lastPut.Before(oldestAt) || (it.lastPut.Equal(oldestAt) && bytes.Compare(t[:], oldest[:]) < 0) {
			oldest, oldestAt, first = t, it.lastPut, false
		}
	}
	if !first {
		s.drop(oldest, s.items[oldest], now)
	}
}

// expire drops expired items and returns how many.
func (s *itemStore) expire(now time.Time) int {
	n := 0
	for t, it := range s.items {
		if !now.Before(it.expires) {
			s.drop(t, it, now)
			n++
		}
	}
	for t, tb := range s.tombs {
		if !now.Before(tb.expires) {
			delete(s.tombs, t)
		}
	}
	return n
}

func (s *itemStore) len() int { return len(s.items) }

// cloneItem copies the byte slices of it, which may alias a packet buffer.
func cloneItem(it bep44.Item) bep44.Item {
	it.V = bytes.Clone(it.V)
	it.Salt = bytes.Clone(it.Salt)
	return it
}
