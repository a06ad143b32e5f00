package dht

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/krpc"
)

func TestAnnounceAndGetPeersReturnRealAddresses(t *testing.T) {
	n, fc := newTestNode(t, func(c *Config) { c.MaxPeersPerTorrent = 2 })
	ih := idOf(7)
	announce := func(from netip.AddrPort, port int, implied bool) *krpc.Msg {
		r := ask(n, from, krpc.MethodGetPeers, &krpc.Args{InfoHash: ih, HasInfoHash: true})
		return ask(n, from, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: ih, HasInfoHash: true, Port: port, HasPort: true, ImpliedPort: implied, Token: r.R.Token})
	}
	wantCode(t, "announce", announce(netip.MustParseAddrPort("127.0.0.5:1000"), 6881, false), 0)
	fc.Advance(time.Second)
	wantCode(t, "implied port", announce(netip.MustParseAddrPort("127.0.0.6:2000"), 1, true), 0)
	wantCode(t, "bad token", ask(n, peerA, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: ih, HasInfoHash: true, Port: 1, HasPort: true, Token: []byte("x")}), krpc.CodeProtocol)
	wantCode(t, "port 0", announce(peerA, 0, false), krpc.CodeProtocol)

	r := ask(n, peerA, krpc.MethodGetPeers, &krpc.Args{InfoHash: ih, HasInfoHash: true})
	got := map[netip.AddrPort]bool{}
	for _, p := range r.R.Values {
		got[p] = true
	}
	if len(got) != 2 || !got[netip.MustParseAddrPort("127.0.0.5:6881")] || !got[netip.MustParseAddrPort("127.0.0.6:2000")] {
		t.Fatalf("values %v", r.R.Values)
	}
	// Per-infohash cap: a third peer evicts the one expiring first.
	fc.Advance(time.Second)
	wantCode(t, "third", announce(netip.MustParseAddrPort("127.0.0.7:3000"), 3000, false), 0)
	if s := n.Stats(); s.Peers != 2 {
		t.Fatalf("%d peers stored, cap 2", s.Peers)
	}
	r = ask(n, peerA, krpc.MethodGetPeers, &krpc.Args{InfoHash: ih, HasInfoHash: true})
	for _, p := range r.R.Values {
		if p == netip.MustParseAddrPort("127.0.0.5:6881") {
			t.Fatal("oldest peer not evicted")
		}
	}
	fc.Advance(DefaultPeerTTL)
	if r := ask(n, peerA, krpc.MethodGetPeers, &krpc.Args{InfoHash: ih, HasInfoHash: true}); len(r.R.Values) != 0 {
		t.Fatalf("expired peers served: %v", r.R.Values)
	}
}

func TestFindNodeAnswersClosestOfRequesterFamily(t *testing.T) {
	n, _ := newTestNode(t, nil)
	for i := 1; i <= 20; i++ {
		n.nodeAnswered(idOf(byte(i*10)), netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}), 5000))
	}
	n.nodeAnswered(idOf(0x55), netip.MustParseAddrPort("[::1]:5000"))
	r := ask(n, peerA, krpc.MethodFindNode, &krpc.Args{Target: idOf(50), HasTarget: true})
	if len(r.R.Nodes) != K || len(r.R.Nodes6) != 0 {
		t.Fatalf("nodes %d nodes6 %d", len(r.R.Nodes), len(r.R.Nodes6))
	}
	if r.R.Nodes[0].ID != idOf(50) {
		t.Fatalf("closest first: got %x", r.R.Nodes[0].ID)
	}
	if r.IP != peerA {
		t.Fatalf("BEP 42 ip field %v, want %v", r.IP, peerA)
	}
	r = ask(n, peerA, krpc.MethodFindNode, &krpc.Args{Target: idOf(50), HasTarget: true, Want: []string{"n6"}})
	if len(r.R.Nodes) != 0 || len(r.R.Nodes6) != 1 {
		t.Fatalf("want n6: nodes %d nodes6 %d", len(r.R.Nodes), len(r.R.Nodes6))
	}
	wantCode(t, "no target", ask(n, peerA, krpc.MethodFindNode, &krpc.Args{}), krpc.CodeProtocol)
	wantCode(t, "unknown", ask(n, peerA, "frobnicate", &krpc.Args{}), krpc.CodeMethodUnknown)
}

func TestReadOnly(t *testing.T) {
	ro, _ := newTestNode(t, func(c *Config) { c.ReadOnly = true })
	if r := ask(ro, peerA, krpc.MethodPing, &krpc.Args{}); r != nil {
		t.Fatalf("read-only node answered: %+v", r)
	}
	n, _ := newTestNode(t, nil)
	m := &krpc.Msg{T: []byte("aa"), Y: krpc.TypeQuery, Q: krpc.MethodPing, RO: true, A: &krpc.Args{ID: idOf(3)}}
	if r := n.handleQuery(peerA, m); r == nil || r.R == nil {
		t.Fatal("no answer to a read-only querier")
	}
	if n.Stats().Nodes != 0 {
		t.Fatal("read-only querier entered the routing table")
	}
	m.RO = false
	n.handleQuery(peerA, m)
	if n.Stats().Nodes != 1 {
		t.Fatal("querier not added to the routing table")
	}
}

func TestRateLimitPerSource(t *testing.T) {
	n, fc := newTestNode(t, func(c *Config) { c.RateLimit = 1; c.RateBurst = 5 })
	answered := func(from netip.AddrPort) int {
		c := 0
		for range 10 {
			if ask(n, from, krpc.MethodPing, &krpc.Args{}) != nil {
				c++
			}
		}
		return c
	}
	if got := answered(peerA); got != 5 {
		t.Fatalf("answered %d of 10 in a burst of 5", got)
	}
	// Same IP, another port: another source (loopback testnets share an IP).
	if got := answered(netip.AddrPortFrom(peerA.Addr(), 7001)); got != 5 {
		t.Fatalf("other port answered %d", got)
	}
	fc.Advance(2 * time.Second)
	if got := answered(peerA); got != 2 {
		t.Fatalf("after 2s answered %d, want 2", got)
	}
	if n.Stats().RateLimited != 18 {
		t.Fatalf("RateLimited = %d", n.Stats().RateLimited)
	}
	byIP, _ := newTestNode(t, func(c *Config) { c.RateLimit = 1; c.RateBurst = 5; c.RateLimitByIP = true })
	n = byIP
	answered(peerA)
	if got := answered(netip.AddrPortFrom(peerA.Addr(), 7001)); got != 0 {
		t.Fatalf("per-IP limit: other port answered %d", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without Conn succeeded")
	}
	if _, err := New(Config{Conn: listen(t), ItemTTL: -1}); err == nil {
		t.Fatal("negative ItemTTL accepted")
	}
	c := listen(t)
	cfg := Config{Conn: c, DisableBackground: true}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.cfg.ItemTTL != DefaultItemTTL || n.cfg.MaxItems != DefaultMaxItems || n.cfg.QueryTimeout != DefaultQueryTimeout || n.cfg.Clock == nil {
		t.Fatalf("defaults not applied: %+v", n.cfg)
	}
	if cfg.Clock != nil || cfg.ItemTTL != 0 {
		t.Fatal("New modified the caller's config")
	}
	if n.ID() == ([20]byte{}) || n.Addr() != c.LocalAddr().(interface{ AddrPort() netip.AddrPort }).AddrPort() {
		t.Fatalf("id %x addr %v", n.ID(), n.Addr())
	}
}

// IPv6 requesters get `nodes6` and IPv6 peers by default (handler level: the
// tests send no packet outside 127.0.0.0/8).
func TestIPv6Requester(t *testing.T) {
	n, _ := newTestNode(t, nil)
	v6a, v6b := netip.MustParseAddrPort("[fd00::1]:6881"), netip.MustParseAddrPort("[fd00::2]:6881")
	n.nodeAnswered(idOf(0x10), netip.MustParseAddrPort("127.0.0.9:6881"))
	n.nodeAnswered(idOf(0x11), v6b)
	r := ask(n, v6a, krpc.MethodFindNode, &krpc.Args{Target: idOf(0x11), HasTarget: true})
	if len(r.R.Nodes) != 0 || len(r.R.Nodes6) != 1 || r.R.Nodes6[0].Addr != v6b {
		t.Fatalf("nodes %v nodes6 %v", r.R.Nodes, r.R.Nodes6)
	}
	ih := idOf(9)
	tok := ask(n, v6a, krpc.MethodGetPeers, &krpc.Args{InfoHash: ih, HasInfoHash: true}).R.Token
	wantCode(t, "announce", ask(n, v6a, krpc.MethodAnnouncePeer, &krpc.Args{InfoHash: ih, HasInfoHash: true, ImpliedPort: true, Token: tok}), 0)
	if r := ask(n, v6b, krpc.MethodGetPeers, &krpc.Args{InfoHash: ih, HasInfoHash: true}); len(r.R.Values) != 1 || r.R.Values[0] != v6a {
		t.Fatalf("v6 values %v", r.R.Values)
	}
	if r := ask(n, peerA, krpc.MethodGetPeers, &krpc.Args{InfoHash: ih, HasInfoHash: true}); len(r.R.Values) != 0 {
		t.Fatalf("IPv4 requester got IPv6 peers %v", r.R.Values)
	}
	// The reply encodes and decodes with the IPv6 node in nodes6.
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := krpc.Decode(b); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkHandleGet measures answering a get for a stored mutable item.
func BenchmarkHandleGet(b *testing.B) {
	n, _ := newTestNode(b, func(c *Config) { c.RateLimit = -1 })
	for i := range 100 {
		n.nodeAnswered(idOf(byte(i)), netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 2, byte(i)}), 6881))
	}
	it := mutable(b, testKey(1), "db", 1, "1:a")
	wantCode(b, "put", ask(n, peerA, krpc.MethodPut, putArgs(it, tokenFor(b, n, peerA))), 0)
	b.ReportAllocs()
	for b.Loop() {
		if r := ask(n, peerA, krpc.MethodGet, &krpc.Args{Target: it.Target(), HasTarget: true}); r.R.V == nil {
			b.Fatal("no value")
		}
	}
}

// BenchmarkHandlePut measures a mutable put refresh (signature check included).
func BenchmarkHandlePut(b *testing.B) {
	n, _ := newTestNode(b, func(c *Config) { c.RateLimit = -1 })
	it := mutable(b, testKey(1), "db", 1, "1:a")
	tok := tokenFor(b, n, peerA)
	b.ReportAllocs()
	for b.Loop() {
		if r := ask(n, peerA, krpc.MethodPut, putArgs(it, tok)); r.E != nil {
			b.Fatal(r.E)
		}
	}
}
