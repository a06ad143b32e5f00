package dht

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/dhtdb/dhtdb/dht/lookup"
	"github.com/dhtdb/dhtdb/krpc"
)

// AnnounceReport says what an announce achieved.
type AnnounceReport struct {
	Peers    int         // distinct peers found
	Stored   int         // nodes that acknowledged the announce_peer (of the up to 8 closest)
	Rejected map[int]int // error code -> count
	TimedOut int
	Msgs     int
}

// GetPeers looks up the peers of a torrent with a get_peers lookup and
// returns the distinct peers the nodes reported (none is not an error).
func (n *Node) GetPeers(ctx context.Context, infohash [20]byte) ([]netip.AddrPort, error) {
	var peers []netip.AddrPort
	_, err := n.peersLookup(ctx, infohash, func(p []netip.AddrPort) { peers = append(peers, p...) })
	if err != nil {
		return peers, fmt.Errorf("get_peers %x: %w", infohash, err)
	}
	return peers, nil
}

// Announce looks up the peers of a torrent and announces us as a peer on
// port (or, with impliedPort, on the UDP source port of our queries) to the
// (up to 8) closest nodes that gave a token. It returns the distinct peers
// found; if no node acknowledged the announce the error wraps ErrNotStored.
// Port 0 without impliedPort only looks up (like GetPeers).
func (n *Node) Announce(ctx context.Context, infohash [20]byte, port int, impliedPort bool) ([]netip.AddrPort, error) {
	var peers []netip.AddrPort
	_, err := n.AnnounceStream(ctx, infohash, port, impliedPort, func(p []netip.AddrPort) { peers = append(peers, p...) })
	return peers, err
}

// GetPeersStream is GetPeers that hands each batch of newly found peers to
// found as the answers arrive (in the lookup's goroutine: found must not
// block for long). Each peer is reported once.
func (n *Node) GetPeersStream(ctx context.Context, infohash [20]byte, found func([]netip.AddrPort)) error {
	if _, err := n.peersLookup(ctx, infohash, found); err != nil {
		return fmt.Errorf("get_peers %x: %w", infohash, err)
	}
	return nil
}

// AnnounceStream is Announce that hands each batch of newly found peers to
// found as the answers arrive (in the lookup's goroutine: found must not
// block for long), then announces and reports the outcome. Each peer is
// reported once; found may be nil. Port 0 without impliedPort only looks up.
func (n *Node) AnnounceStream(ctx context.Context, infohash [20]byte, port int, impliedPort bool,
	found func([]netip.AddrPort)) (AnnounceReport, error) {
	if port < 0 || port > 65535 {
		return AnnounceReport{}, fmt.Errorf("announce %x: port %d out of range", infohash, port)
	}
	var rep AnnounceReport
	pl, err := n.peersLookup(ctx, infohash, func(p []netip.AddrPort) {
		rep.Peers += len(p)
		if found != nil {
			found(p)
		}
	})
	if pl.l != nil {
		rep.Msgs = pl.l.Stats().Queries
	}
	if err != nil {
		return rep, fmt.Errorf("announce %x: %w", infohash, err)
	}
	if port == 0 && !impliedPort {
		return rep, nil
	}
	noNodes := rep.Msgs == 0
	targets := tokenHolders(pl.l, pl.tokens)
	args := krpc.Args{InfoHash: infohash, HasInfoHash: true, Port: port, HasPort: true, ImpliedPort: impliedPort}
	sr := n.storeOn(ctx, targets, pl.tokens, krpc.MethodAnnouncePeer, args, nil)
	rep.Stored, rep.Rejected, rep.TimedOut = sr.stored, sr.rejected, sr.timedOut
	rep.Msgs += sr.msgs
	if rep.Stored == 0 {
		return rep, notStored("announce", infohash, rep.Rejected, len(targets), noNodes)
	}
	return rep, nil
}

type peersLookup struct {
	l      *lookup.Lookup
	tokens map[netip.AddrPort]writeToken
}

// peersLookup runs a get_peers lookup, reporting new valid peers to found and
// collecting the tokens of the nodes that answered.
func (n *Node) peersLookup(ctx context.Context, infohash [20]byte, found func([]netip.AddrPort)) (peersLookup, error) {
	pl := peersLookup{tokens: map[netip.AddrPort]writeToken{}}
	seen := map[netip.AddrPort]bool{}
	args := krpc.Args{InfoHash: infohash, HasInfoHash: true}
	l, err := n.traverse(ctx, infohash, krpc.MethodGetPeers, args, n.softTimeout(), func(from lookup.Node, r *krpc.Return, rtt time.Duration) {
		if len(r.Token) > 0 {
			pl.tokens[from.Addr] = writeToken{bytes.Clone(r.Token), rtt}
		}
		var fresh []netip.AddrPort
		for _, p := range r.Values {
			p = netip.AddrPortFrom(p.Addr().Unmap(), p.Port())
			if !p.IsValid() || p.Port() == 0 || p.Addr().IsUnspecified() || seen[p] {
				continue
			}
			seen[p] = true
			fresh = append(fresh, p)
		}
		if len(fresh) > 0 && found != nil {
			found(fresh)
		}
	})
	pl.l = l
	return pl, err
}
