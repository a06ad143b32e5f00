package dht

import (
	"crypto/ed25519"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/krpc"
)

var testStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// listen opens a loopback UDP socket on a free port.
func listen(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newTestNode starts a node on loopback with a fake clock and no background
// work; mod may adjust the config.
func newTestNode(t testing.TB, mod func(*Config)) (*Node, *clock.Fake) {
	t.Helper()
	fc := clock.NewFake(testStart)
	cfg := Config{Conn: listen(t), Clock: fc, Rand: rand.New(rand.NewPCG(1, 2)), DisableBackground: true}
	if mod != nil {
		mod(&cfg)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, fc
}

var peerA = netip.MustParseAddrPort("127.0.0.2:7000")

func idOf(b byte) (x [20]byte) {
	for i := range x {
		x[i] = b
	}
	return x
}

// ask runs one query through the handler as if it came from from.
func ask(n *Node, from netip.AddrPort, q string, a *krpc.Args) *krpc.Msg {
	if a.ID == ([20]byte{}) {
		a.ID = idOf(0xaa)
	}
	return n.handleQuery(from, &krpc.Msg{T: []byte("tt"), Y: krpc.TypeQuery, Q: q, A: a})
}

// tokenFor gets a write token for from with a get query.
func tokenFor(t testing.TB, n *Node, from netip.AddrPort) []byte {
	t.Helper()
	r := ask(n, from, krpc.MethodGet, &krpc.Args{Target: idOf(1), HasTarget: true})
	if r == nil || r.R == nil || len(r.R.Token) == 0 {
		t.Fatalf("get gave no token: %+v", r)
	}
	return r.R.Token
}

func testKey(seed byte) ed25519.PrivateKey {
	s := make([]byte, 32)
	s[0] = seed
	return ed25519.NewKeyFromSeed(s)
}

func mutable(t testing.TB, priv ed25519.PrivateKey, salt string, seq int64, v string) bep44.Item {
	t.Helper()
	it, err := bep44.NewMutable(priv, []byte(salt), seq, []byte(v))
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func putArgs(it bep44.Item, token []byte) *krpc.Args {
	a := &krpc.Args{V: it.V, Token: token}
	if it.Mutable {
		a.K, a.Sig, a.Salt, a.Seq, a.HasSeq = it.K[:], it.Sig[:], it.Salt, it.Seq, true
	}
	return a
}

// wantCode checks that reply is an error with code (0: a response).
func wantCode(t testing.TB, what string, reply *krpc.Msg, code int) {
	t.Helper()
	switch {
	case reply == nil:
		t.Fatalf("%s: no reply", what)
	case code == 0 && reply.E != nil:
		t.Fatalf("%s: error %d %s, want success", what, reply.E.Code, reply.E.Msg)
	case code != 0 && (reply.E == nil || reply.E.Code != code):
		t.Fatalf("%s: reply %+v (E %+v), want error %d", what, reply, reply.E, code)
	}
}
