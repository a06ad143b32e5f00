package dht

import (
	"net/netip"
	"testing"
)

func addrN(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)}), 6881)
}

// idWithPrefix returns an id sharing exactly cpl leading bits with self,
// the rest from fill.
func idWithPrefix(self [20]byte, cpl int, fill byte) [20]byte {
	id := idOf(fill)
	for b := 0; b < cpl; b++ {
		mask := byte(0x80) >> (b % 8)
		id[b/8] = id[b/8]&^mask | self[b/8]&mask
	}
	mask := byte(0x80) >> (cpl % 8)
	id[cpl/8] = id[cpl/8]&^mask | ^self[cpl/8]&mask
	return id
}

func TestTableSplitsOnlyOwnBucket(t *testing.T) {
	self := [20]byte{}
	tb := newTable(self, 2, testStart)
	// 8 far nodes (first bit differs) and 8 near ones (cpl 1): the first
	// bucket splits once, both halves full.
	for i := range 8 {
		tb.seen(idWithPrefix(self, 0, byte(0x10+i)), addrN(i), testStart, true)
	}
	for i := range 8 {
		tb.seen(idWithPrefix(self, 1, byte(0x20+i)), addrN(100+i), testStart, true)
	}
	if len(tb.buckets) < 2 || tb.len() != 16 {
		t.Fatalf("buckets %d nodes %d", len(tb.buckets), tb.len())
	}
	// A ninth far node: its bucket (not ours) cannot split; it goes to the
	// replacement cache.
	before := len(tb.buckets)
	if tb.seen(idWithPrefix(self, 0, 0x30), addrN(200), testStart, true) {
		t.Fatal("ninth node entered a full far bucket")
	}
	if len(tb.buckets) != before || len(tb.buckets[0].repl) != 1 || tb.len() != 16 {
		t.Fatalf("buckets %d repl %d nodes %d", len(tb.buckets), len(tb.buckets[0].repl), tb.len())
	}
	for i, b := range tb.buckets {
		if len(b.nodes) > K {
			t.Fatalf("bucket %d holds %d", i, len(b.nodes))
		}
		for _, e := range b.nodes {
			if got := min(commonPrefix(self, e.id), len(tb.buckets)-1); got != i {
				t.Fatalf("node with cpl %d in bucket %d", got, i)
			}
		}
	}
}

func TestTableEvictsFailedNodeAndPromotesReplacement(t *testing.T) {
	self := [20]byte{}
	tb := newTable(self, 2, testStart)
	for i := range 8 {
		tb.seen(idWithPrefix(self, 0, byte(0x10+i)), addrN(i), testStart, true)
	}
	tb.seen(idWithPrefix(self, 1, 0x20), addrN(50), testStart, true) // forces split off our half
	repl := idWithPrefix(self, 0, 0x40)
	tb.seen(repl, addrN(99), testStart, true)
	if tb.byAddr[addrN(99)] != nil {
		t.Fatal("replacement is live already")
	}
	if tb.failed(addrN(3)) {
		t.Fatal("evicted after one timeout")
	}
	if got := tb.closest(idWithPrefix(self, 0, 0x13), 1); got[0].Addr == addrN(3) {
		t.Fatal("a failing node is preferred over healthy ones")
	}
	if !tb.failed(addrN(3)) {
		t.Fatal("not evicted after two timeouts")
	}
	if tb.byAddr[addrN(3)] != nil || tb.byAddr[addrN(99)] == nil {
		t.Fatal("replacement not promoted")
	}
	// An answer resets the failure count.
	tb.failed(addrN(4))
	tb.seen(idWithPrefix(self, 0, 0x14), addrN(4), testStart, true)
	tb.failed(addrN(4))
	if tb.byAddr[addrN(4)] == nil {
		t.Fatal("node evicted although it answered between timeouts")
	}
}

func TestTableConfirmedNodeReplacesUnconfirmed(t *testing.T) {
	self := [20]byte{}
	tb := newTable(self, 2, testStart)
	tb.seen(idWithPrefix(self, 1, 0x20), addrN(50), testStart, true)
	for i := range 8 {
		tb.seen(idWithPrefix(self, 0, byte(0x10+i)), addrN(i), testStart, i != 5) // node 5 only queried us
	}
	tb.seen(idWithPrefix(self, 1, 0x21), addrN(51), testStart, true)
	tb.seen(idWithPrefix(self, 0, 0x40), addrN(99), testStart, true)
	if tb.byAddr[addrN(99)] == nil || tb.byAddr[addrN(5)] != nil {
		t.Fatal("confirmed newcomer did not replace the unconfirmed node")
	}
}

func TestTableIDChangeAndHijack(t *testing.T) {
	self := [20]byte{}
	tb := newTable(self, 2, testStart)
	a, b := idOf(0x80), idOf(0x81)
	tb.seen(a, addrN(1), testStart, true)
	tb.seen(b, addrN(1), testStart, true) // same address, new id
	if tb.len() != 1 || tb.byAddr[addrN(1)].id != b {
		t.Fatal("id change at an address not recorded")
	}
	if tb.seen(b, addrN(2), testStart, false) || tb.byAddr[addrN(1)] == nil {
		t.Fatal("a confirmed id moved to another address")
	}
	if tb.seen(self, addrN(3), testStart, true) {
		t.Fatal("own id added")
	}
}

func TestRandomIDInBucket(t *testing.T) {
	self := idOf(0x5a)
	tb := newTable(self, 2, testStart)
	for range 5 {
		tb.split()
	}
	r := uint64(12345)
	rnd := func() uint64 { r = r*6364136223846793005 + 1442695040888963407; return r }
	for i := range tb.buckets {
		for range 20 {
			if got := tb.bucketIndex(tb.randomIDInBucket(i, rnd)); got != i {
				t.Fatalf("random id for bucket %d lands in %d", i, got)
			}
		}
	}
}

func TestBEP42Vectors(t *testing.T) {
	// BEP 42's table: IP, rand, the id's first 3 bytes (the low 3 bits of
	// the third are random), last byte = rand.
	vecs := []struct {
		ip     string
		rand   byte
		prefix [3]byte
	}{
		{"124.31.75.21", 1, [3]byte{0x5f, 0xbf, 0xbf}},
		{"21.75.31.124", 86, [3]byte{0x5a, 0x3c, 0xe9}},
		{"65.23.51.170", 22, [3]byte{0xa5, 0xd4, 0x32}},
		{"84.124.73.14", 65, [3]byte{0x1b, 0x03, 0x21}},
		{"43.213.53.83", 90, [3]byte{0xe5, 0x6f, 0x6c}},
	}
	for _, v := range vecs {
		ip := netip.MustParseAddr(v.ip)
		var rnd [20]byte
		rnd[19] = v.rand
		id := bep42ID(ip, rnd)
		if id[0] != v.prefix[0] || id[1] != v.prefix[1] || id[2]&0xf8 != v.prefix[2]&0xf8 || id[19] != v.rand {
			t.Errorf("%s: id %x, want prefix %x", v.ip, id[:3], v.prefix)
		}
		if !bep42Valid(id, ip) {
			t.Errorf("%s: generated id not valid", v.ip)
		}
		id[0] ^= 1
		if bep42Valid(id, ip) {
			t.Errorf("%s: corrupted id valid", v.ip)
		}
	}
	if !bep42Valid(idOf(1), netip.MustParseAddr("127.0.0.1")) || !bep42Valid(idOf(1), netip.MustParseAddr("192.168.1.1")) {
		t.Error("loopback/private addresses not exempt")
	}
}

func TestAdoptBEP42IDFromVotes(t *testing.T) {
	n, _ := newTestNode(t, nil)
	for i := 1; i <= 20; i++ {
		n.nodeAnswered(idOf(byte(i*10)), addrN(i))
	}
	before := n.Stats().Nodes
	public := netip.MustParseAddr("203.0.113.7")
	n.mu.Lock()
	n.voteExternalLocked(netip.MustParseAddr("127.0.0.2"), public)
	n.voteExternalLocked(netip.MustParseAddr("127.0.0.2"), public) // one vote per voter
	n.voteExternalLocked(netip.MustParseAddr("127.0.0.3"), public)
	n.mu.Unlock()
	if n.adoptBEP42ID() {
		t.Fatal("adopted an id after 2 votes")
	}
	n.mu.Lock()
	n.voteExternalLocked(netip.MustParseAddr("127.0.0.4"), public)
	n.mu.Unlock()
	if !n.adoptBEP42ID() {
		t.Fatal("no BEP 42 id after 3 votes for a public IP")
	}
	if !bep42Valid(n.ID(), public) || n.Stats().ExternalIP != public {
		t.Fatalf("id %x not valid for %v", n.ID(), public)
	}
	// Buckets are cut differently around the new id: some nodes may move to
	// replacement caches, but the table stays populated.
	if got := n.Stats().Nodes; got < K || got > before {
		t.Fatalf("table holds %d nodes after the id change (%d before)", got, before)
	}
	if n.adoptBEP42ID() {
		t.Fatal("id changed twice")
	}

	fixed, _ := newTestNode(t, func(c *Config) { c.ID = idOf(1) })
	fixed.mu.Lock()
	for i := range 3 {
		fixed.voteExternalLocked(netip.AddrFrom4([4]byte{127, 0, 0, byte(10 + i)}), public)
	}
	fixed.mu.Unlock()
	if fixed.adoptBEP42ID() || fixed.ID() != idOf(1) {
		t.Fatal("a configured id was replaced")
	}
}
