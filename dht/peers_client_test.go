package dht

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestAnnounceAndGetPeers(t *testing.T) {
	nodes := newLoopbackNet(t, 30, 4, nil)
	ctx := testCtx(t)
	ih := [20]byte{0: 0xab, 19: 1}

	// Nothing announced yet: no peers, no error.
	peers, err := nodes[10].GetPeers(ctx, ih)
	if err != nil || len(peers) != 0 {
		t.Fatalf("get_peers before any announce: %v, %v", peers, err)
	}

	if _, err := nodes[2].Announce(ctx, ih, 4321, false); err != nil {
		t.Fatalf("announce: %v", err)
	}
	rep, err := nodes[3].AnnounceStream(ctx, ih, 0, true, func([]netip.AddrPort) {})
	if err != nil || rep.Stored < 5 {
		t.Fatalf("implied-port announce: %v (report %+v)", err, rep)
	}

	explicit := netip.AddrPortFrom(nodes[2].Addr().Addr(), 4321)
	implied := nodes[3].Addr()
	peers, err = nodes[20].GetPeers(ctx, ih)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(peers, explicit) || !slices.Contains(peers, implied) {
		t.Fatalf("get_peers = %v, want %v and %v", peers, explicit, implied)
	}

	// The stream reports each peer once, and port 0 only looks up.
	var streamed []netip.AddrPort
	rep, err = nodes[25].AnnounceStream(ctx, ih, 0, false, func(p []netip.AddrPort) { streamed = append(streamed, p...) })
	if err != nil || rep.Stored != 0 {
		t.Fatalf("lookup-only announce: %v (report %+v)", err, rep)
	}
	sorted := slices.Clone(streamed)
	slices.SortFunc(sorted, func(a, b netip.AddrPort) int { return a.Compare(b) })
	if len(slices.Compact(sorted)) != len(streamed) || !slices.Contains(streamed, explicit) || rep.Peers != len(streamed) {
		t.Fatalf("streamed %v (report %+v)", streamed, rep)
	}

	if _, err := nodes[1].Announce(ctx, ih, 70000, false); err == nil || errors.Is(err, ErrNotStored) {
		t.Fatalf("announce with port 70000: err = %v, want a port error", err)
	}
}
