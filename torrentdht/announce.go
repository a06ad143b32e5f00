package torrentdht

import (
	"context"
	"encoding/hex"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	adht "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent"

	"github.com/dhtdb/dhtdb/dht"
)

// announce is one open torrent.DhtAnnounce: a loop of lookups that hands the
// peers found to the client until Close.
type announce struct {
	s        *Server
	infohash [20]byte
	port     int
	peers    chan adht.PeersValues
	cancel   context.CancelFunc
	done     chan struct{}
	once     sync.Once
	asleep   atomic.Bool
}

// Announce starts looking up the peers of hash and announcing port for it.
// impliedPort is ignored (see the package doc). Lookups repeat until the
// returned announce is closed; its Peers channel closes after that.
func (s *Server) Announce(hash [20]byte, port int, impliedPort bool) (torrent.DhtAnnounce, error) {
	if port < 0 || port > 65535 {
		port = 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &announce{
		s:        s,
		infohash: hash,
		port:     port,
		peers:    make(chan adht.PeersValues),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	s.mu.Lock()
	s.announces[a] = struct{}{}
	s.mu.Unlock()
	go a.run(ctx)
	return a, nil
}

// Peers returns the channel of peers found; it closes once the announce is
// closed.
func (a *announce) Peers() <-chan adht.PeersValues { return a.peers }

// Close stops the announce. It does not wait for a lookup in flight.
func (a *announce) Close() {
	a.once.Do(a.cancel)
}

func (a *announce) run(ctx context.Context) {
	defer func() {
		a.s.mu.Lock()
		delete(a.s.announces, a)
		a.s.mu.Unlock()
		close(a.peers)
		close(a.done)
	}()
	cfg := a.s.cfg
	delay := cfg.Retry
	for {
		found := a.lookup(ctx)
		if ctx.Err() != nil {
			return
		}
		if found {
			delay = cfg.Interval
		}
		if !a.sleep(ctx, delay) {
			return
		}
		delay = min(delay*2, cfg.Interval)
	}
}

// streamer is implemented by nodes that hand over peers as the lookup finds
// them (*dht.Node), so the client can dial the first seeder before the
// lookup has settled.
type streamer interface {
	GetPeersStream(ctx context.Context, infohash [20]byte, found func([]netip.AddrPort)) error
	AnnounceStream(ctx context.Context, infohash [20]byte, port int, impliedPort bool, found func([]netip.AddrPort)) (dht.AnnounceReport, error)
}

// lookup runs one get_peers (and announce_peer when the port is known) and
// sends what it finds. It reports whether any peer was found.
func (a *announce) lookup(ctx context.Context) bool {
	cfg := a.s.cfg
	lctx, cancel := context.WithTimeout(ctx, cfg.AnnounceTimeout)
	defer cancel()
	a.s.lookups.Add(1)
	var err error
	var gotAny atomic.Bool
	if st, ok := cfg.Node.(streamer); ok {
		found := func(p []netip.AddrPort) {
			if a.send(lctx, p) {
				gotAny.Store(true)
			}
		}
		if a.port == 0 {
			err = st.GetPeersStream(lctx, a.infohash, found)
		} else {
			_, err = st.AnnounceStream(lctx, a.infohash, a.port, false, found)
		}
	} else {
		var peers []netip.AddrPort
		if a.port == 0 {
			peers, err = cfg.Node.GetPeers(lctx, a.infohash)
		} else {
			peers, err = cfg.Node.Announce(lctx, a.infohash, a.port, false)
		}
		gotAny.Store(a.send(ctx, peers))
	}
	if err != nil {
		// An announce no node acknowledged still found what it found.
		a.s.lookupErrs.Add(1)
		cfg.Logger.Debug("torrentdht: announce", "infohash", hex.EncodeToString(a.infohash[:]), "err", err)
	}
	return gotAny.Load()
}

// send hands peers to the client; it reports whether it handed any.
func (a *announce) send(ctx context.Context, found []netip.AddrPort) bool {
	pv := adht.PeersValues{Peers: make([]adht.Peer, 0, len(found))}
	for _, ap := range found {
		if !ap.IsValid() || ap.Port() == 0 {
			continue
		}
		pv.Peers = append(pv.Peers, krpc.NodeAddr{IP: ap.Addr().Unmap().AsSlice(), Port: int(ap.Port())})
	}
	if len(pv.Peers) == 0 {
		return false
	}
	select {
	case a.peers <- pv:
		a.s.peersFound.Add(int64(len(pv.Peers)))
		return true
	case <-ctx.Done():
		return false
	}
}

func (a *announce) sleep(ctx context.Context, d time.Duration) bool {
	wake := make(chan struct{})
	t := a.s.cfg.Clock.AfterFunc(d, func() { close(wake) })
	a.asleep.Store(true)
	defer a.asleep.Store(false)
	select {
	case <-wake:
		return true
	case <-ctx.Done():
		t.Stop()
		return false
	}
}

// sleeping reports whether every open announce is waiting between lookups
// (for tests that drive the clock).
func (s *Server) sleeping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.announces {
		if !a.asleep.Load() {
			return false
		}
	}
	return true
}
