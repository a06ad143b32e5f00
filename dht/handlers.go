package dht

import (
	"net/netip"
	"slices"

	"github.com/dhtdb/dhtdb/krpc"
)

// handleQuery answers one decoded query from from. It returns the reply to
// send, or nil to send nothing (read-only mode, rate limited).
func (n *Node) handleQuery(from netip.AddrPort, m *krpc.Msg) *krpc.Msg {
	if n.cfg.ReadOnly {
		return nil // BEP 43: a read-only node answers no query
	}
	if !n.allow(from) {
		return nil
	}
	now := n.clock.Now()
	if m.A == nil {
		return errorReply(m.T, krpc.CodeProtocol, "Protocol Error: missing arguments")
	}
	if m.Q == krpc.MethodPut {
		// Verification (a signature check) runs outside the lock.
		return n.handlePut(from, m)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.noteQuerierLocked(from, m)
	r := &krpc.Return{ID: n.id}
	switch m.Q {
	case krpc.MethodPing:
	case krpc.MethodFindNode:
		if !m.A.HasTarget {
			return errorReply(m.T, krpc.CodeProtocol, "Protocol Error: find_node without target")
		}
		n.addNodesLocked(r, m.A.Target, from, m.A.Want)
	case krpc.MethodGetPeers:
		if !m.A.HasInfoHash {
			return errorReply(m.T, krpc.CodeProtocol, "Protocol Error: get_peers without info_hash")
		}
		r.Token = n.tokens.issue(from.Addr(), now)
		r.Values = n.peers.get(m.A.InfoHash, from.Addr().Is4(), now, n.randIntN)
		n.addNodesLocked(r, m.A.InfoHash, from, m.A.Want)
	case krpc.MethodAnnouncePeer:
		if !m.A.HasInfoHash {
			return errorReply(m.T, krpc.CodeProtocol, "Protocol Error: announce_peer without info_hash")
		}
		if !n.tokens.valid(m.A.Token, from.Addr(), now) {
			return errorReply(m.T, krpc.CodeProtocol, "Protocol Error: invalid token")
		}
		port := m.A.Port
		if m.A.ImpliedPort {
			port = int(from.Port())
		}
		if port <= 0 || port > 65535 {
			return errorReply(m.T, krpc.CodeProtocol, "Protocol Error: invalid port")
		}
		n.peers.announce(m.A.InfoHash, netip.AddrPortFrom(from.Addr(), uint16(port)), now)
	case krpc.MethodGet:
		if !m.A.HasTarget {
			return errorReply(m.T, krpc.CodeProtocol, "Protocol Error: get without target")
		}
		r.Token = n.tokens.issue(from.Addr(), now)
		n.addNodesLocked(r, m.A.Target, from, m.A.Want)
		if st := n.store.get(m.A.Target, now); st != nil {
			it := st.item
			if !it.Mutable {
				r.V = it.V
			} else {
				r.Seq, r.HasSeq = it.Seq, true
				// BEP 44: with `seq` in the get, send the value only if newer.
				if !m.A.HasSeq || it.Seq > m.A.Seq {
					r.V, r.K, r.Sig = it.V, it.K[:], it.Sig[:]
				}
			}
		}
	default:
		return errorReply(m.T, krpc.CodeMethodUnknown, "Method Unknown")
	}
	return &krpc.Msg{T: m.T, Y: krpc.TypeResponse, R: r, IP: from}
}

// noteQuerierLocked adds the sender of a query to the routing table, unless
// it is read-only (BEP 43). n.mu must be held.
func (n *Node) noteQuerierLocked(from netip.AddrPort, m *krpc.Msg) {
	if m.RO || m.A == nil || m.A.ID == n.id {
		return
	}
	n.seenLocked(m.A.ID, from, false)
}

// addNodesLocked fills r.Nodes/r.Nodes6 with the K closest nodes to target:
// the requester's address family by default, or as asked by `want` (BEP 32).
func (n *Node) addNodesLocked(r *krpc.Return, target [20]byte, from netip.AddrPort, want []string) {
	want4, want6 := from.Addr().Is4(), !from.Addr().Is4()
	if len(want) > 0 {
		want4, want6 = slices.Contains(want, "n4"), slices.Contains(want, "n6")
	}
	var got4, got6 int
	for _, ni := range n.table.closest(target, 4*K) {
		if ni.Addr == from {
			continue
		}
		if ni.Addr.Addr().Is4() {
			if want4 && got4 < K {
				r.Nodes = append(r.Nodes, ni)
				got4++
			}
		} else if want6 && got6 < K {
			r.Nodes6 = append(r.Nodes6, ni)
			got6++
		}
	}
}
