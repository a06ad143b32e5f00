package dht

import (
	"net/netip"
	"time"
)

// maxValues caps the peers returned by one get_peers answer, to stay within
// one UDP packet.
const maxValues = 50

// peerStore holds the peers announced with announce_peer: at most
// maxPerTorrent per infohash and maxTorrents infohashes, each peer for ttl
// after its last announce. Pure; guarded by the node's lock.
type peerStore struct {
	maxPerTorrent, maxTorrents int
	ttl                        time.Duration
	torrents                   map[[20]byte]*swarm
}

type swarm struct {
	peers map[netip.AddrPort]time.Time // peer -> expiry
	last  time.Time                    // last announce
}

// announce records peer for infohash.
func (s *peerStore) announce(ih [20]byte, peer netip.AddrPort, now time.Time) {
	sw := s.torrents[ih]
	if sw == nil {
		if s.torrents == nil {
			s.torrents = make(map[[20]byte]*swarm)
		}
		if len(s.torrents) >= s.maxTorrents {
			s.expire(now)
		}
		if len(s.torrents) >= s.maxTorrents {
			var victim [20]byte
			var at time.Time
			first := true
			for k, v := range s.torrents {
				if first || v.last.Before(at) {
					victim, at, first = k, v.last, false
				}
			}
			delete(s.torrents, victim)
		}
		sw = &swarm{peers: make(map[netip.AddrPort]time.Time)}
		s.torrents[ih] = sw
	}
	sw.last = now
	if _, ok := sw.peers[peer]; !ok && len(sw.peers) >= s.maxPerTorrent {
		var victim netip.AddrPort
		var exp time.Time
		first := true
		for p, e := range sw.peers {
			if first || e.Before(exp) {
				victim, exp, first = p, e, false
			}
		}
		delete(sw.peers, victim)
	}
	sw.peers[peer] = now.Add(s.ttl)
}

// get returns up to maxValues live peers of infohash of the address family
// of v4 (IPv4 when true), chosen at random when there are more.
func (s *peerStore) get(ih [20]byte, v4 bool, now time.Time, rnd func(int) int) []netip.AddrPort {
	sw := s.torrents[ih]
	if sw == nil {
		return nil
	}
	var out []netip.AddrPort
	seen := 0
	for p, exp := range sw.peers {
		if !now.Before(exp) {
			delete(sw.peers, p)
			continue
		}
		if p.Addr().Is4() != v4 {
			continue
		}
		seen++
		if len(out) < maxValues {
			out = append(out, p)
		} else if j := rnd(seen); j < maxValues { // reservoir sampling
			out[j] = p
		}
	}
	if len(sw.peers) == 0 {
		delete(s.torrents, ih)
	}
	return out
}

// expire drops expired peers and empty swarms.
func (s *peerStore) expire(now time.Time) {
	for ih, sw := range s.torrents {
		for p, exp := range sw.peers {
			if !now.Before(exp) {
				delete(sw.peers, p)
			}
		}
		if len(sw.peers) == 0 {
			delete(s.torrents, ih)
		}
	}
}

// count returns the number of stored peers.
func (s *peerStore) count() int {
	n := 0
	for _, sw := range s.torrents {
		n += len(sw.peers)
	}
	return n
}
