package interop

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	anadht "github.com/anacrolix/dht/v2"
	analog "github.com/anacrolix/log"
	"golang.org/x/time/rate"

	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/internal/ltpeer"
)

// testTimeout bounds each test. It is generous on purpose: the machine is
// shared, and speed is measured by benchmarks, not here.
const testTimeout = 50 * time.Second

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or ctx ends; what describes the
// condition in the failure.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// startLibtorrent starts n libtorrent peers, each given boot as DHT nodes.
func startLibtorrent(t testing.TB, n int, cfg ltpeer.Config) []*ltpeer.Peer {
	t.Helper()
	peers := make([]*ltpeer.Peer, n)
	for i := range peers {
		peers[i] = ltpeer.StartTest(t, cfg)
	}
	return peers
}

// introduce makes every libtorrent peer add every address (but its own) to
// its routing table.
func introduce(t testing.TB, ctx context.Context, peers []*ltpeer.Peer, addrs []netip.AddrPort) {
	t.Helper()
	for _, p := range peers {
		for _, a := range addrs {
			if a == p.Addr() {
				continue
			}
			if err := p.AddNode(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// waitTables waits until each libtorrent peer holds at least n live nodes.
func waitTables(t testing.TB, ctx context.Context, peers []*ltpeer.Peer, n int) {
	t.Helper()
	for i, p := range peers {
		if _, err := p.WaitNodes(ctx, n); err != nil {
			t.Fatalf("libtorrent peer %d: %v", i, err)
		}
	}
}

func ltAddrs(peers []*ltpeer.Peer) []netip.AddrPort {
	out := make([]netip.AddrPort, len(peers))
	for i, p := range peers {
		out[i] = p.Addr()
	}
	return out
}

// startAnacrolix starts an anacrolix/dht v2.24.0 server on 127.0.0.1 that
// knows no routers, only the nodes it is told about.
func startAnacrolix(t testing.TB, boot []netip.AddrPort) *anadht.Server {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := anadht.NewDefaultServerConfig()
	cfg.Conn = conn
	cfg.NoSecurity = true
	cfg.StartingNodes = func() ([]anadht.Addr, error) {
		out := make([]anadht.Addr, len(boot))
		for i, a := range boot {
			out[i] = anadht.NewAddr(net.UDPAddrFromAddrPort(a))
		}
		return out, nil
	}
	// Bug workaround: the default SendLimiter is one package-level limiter
	// shared by every server in the process.
	cfg.SendLimiter = rate.NewLimiter(rate.Inf, 0)
	cfg.Logger = analog.Default.WithFilterLevel(analog.Disabled)
	s, err := anadht.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func anaAddr(s *anadht.Server) netip.AddrPort {
	return s.Addr().(*net.UDPAddr).AddrPort()
}

// anaPing pings addr from s (which adds it to s's routing table when it
// answers) and returns the id it answered with. A ping that times out is
// tried again (anacrolix's own timeout is short for a busy machine).
func anaPing(s *anadht.Server, addr netip.AddrPort) ([20]byte, error) {
	var err error
	for range 3 {
		res := s.Ping(net.UDPAddrFromAddrPort(addr))
		if err = res.ToError(); err != nil {
			continue
		}
		if res.Reply.R == nil {
			return [20]byte{}, fmt.Errorf("anacrolix ping %v: no response body", addr)
		}
		return res.Reply.R.ID, nil
	}
	return [20]byte{}, fmt.Errorf("anacrolix ping %v: %w", addr, err)
}

// bstring is the bencoding of a byte string.
func bstring(s string) []byte { return []byte(fmt.Sprintf("%d:%s", len(s), s)) }

// startOurs starts one of our dht nodes on 127.0.0.1; tweak may adjust its
// config (nil: defaults).
func startOurs(t testing.TB, tweak func(*dht.Config)) *dht.Node {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := dht.Config{Conn: conn}
	if tweak != nil {
		tweak(&cfg)
	}
	n, err := dht.New(cfg)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func startOursN(t testing.TB, count int, tweak func(*dht.Config)) []*dht.Node {
	t.Helper()
	out := make([]*dht.Node, count)
	for i := range out {
		out[i] = startOurs(t, tweak)
	}
	return out
}

func ourAddrs(nodes []*dht.Node) []netip.AddrPort {
	out := make([]netip.AddrPort, len(nodes))
	for i, n := range nodes {
		out[i] = n.Addr()
	}
	return out
}

// joinOurs makes each of our nodes add every address (but its own) and
// waits until each holds at least want nodes in its routing table.
func joinOurs(t testing.TB, ctx context.Context, nodes []*dht.Node, addrs []netip.AddrPort, want int) {
	t.Helper()
	for _, n := range nodes {
		for _, a := range addrs {
			if a == n.Addr() {
				continue
			}
			if err := n.AddNode(a); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, n := range nodes {
		waitFor(t, ctx, fmt.Sprintf("our node %d to know %d nodes", i, want), func() bool {
			return n.Stats().Nodes >= want
		})
	}
}

// itemsStored is the number of items held by our nodes together.
func itemsStored(nodes []*dht.Node) int {
	sum := 0
	for _, n := range nodes {
		sum += n.Stats().Items
	}
	return sum
}

// pointerValue is a bencoded dictionary shaped like a dhtdb pointer: what
// dhtdb actually stores, and a value the python bindings cannot decode by
// themselves (ltpeer returns it verbatim from the wire).
func pointerValue(tag byte, size int) []byte {
	ih := bytes.Repeat([]byte{tag}, 20)
	return fmt.Appendf(nil, "d2:ih20:%s4:sizei%de1:ti1764000000ee", ih, size)
}

// testKey is a fixed ed25519 key per test, so failures are reproducible.
func testKey(b byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize))
}
