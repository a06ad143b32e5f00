package swarm

import (
	"context"
	"net/netip"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/torrentdht"
)

// maxStallRetry caps the wait between two peer lookups of a stalled fetch.
const maxStallRetry = 30 * time.Second

// stallSearch looks peers up again while a fetch has none connected.
//
// The client's DHT announce repeats slowly once it has found peers (the
// adapter waits five minutes); when every peer found so far has gone or was
// dropped for sending bad data, a fetch would sit idle that long. So each
// tick without a connected peer may start a get_peers of its own, backing
// off from Config.DHTRetry to maxStallRetry.
type stallSearch struct {
	node     torrentdht.Node // nil: no DHT
	ih       metainfo.Hash
	retry    time.Duration
	delay    time.Duration
	next     time.Time
	inflight bool
	found    chan []netip.AddrPort
}

func newStallSearch(node torrentdht.Node, ih metainfo.Hash, retry time.Duration, now time.Time) *stallSearch {
	if retry == 0 {
		retry = torrentdht.DefaultRetry
	}
	return &stallSearch{node: node, ih: ih, retry: retry, delay: retry, next: now.Add(retry), found: make(chan []netip.AddrPort, 1)}
}

// tick starts a lookup when there is no peer and the back-off allows it.
func (s *stallSearch) tick(ctx context.Context, t *torrent.Torrent, now time.Time) {
	if s.node == nil || s.inflight {
		return
	}
	if t.Stats().ActivePeers > 0 {
		s.delay = s.retry
		return
	}
	if now.Before(s.next) {
		return
	}
	s.inflight = true
	s.next = now.Add(s.delay)
	s.delay = min(2*s.delay, maxStallRetry)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, torrentdht.DefaultAnnounceTimeout)
		defer cancel()
		peers, _ := s.node.GetPeers(ctx, s.ih)
		s.found <- peers
	}()
}

// got hands the peers of a finished lookup to the torrent.
func (s *stallSearch) got(t *torrent.Torrent, peers []netip.AddrPort) {
	s.inflight = false
	addPeers(t, peers)
}
