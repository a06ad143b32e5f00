package torrentdht

import (
	"context"
	"encoding/hex"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent"
)

// announce is one open torrent.DhtAnnounce: a loop of lookups that hands the
// peers found to the client until Close.
type announce struct {
	s        *Server
	infohash [20]byte
	port     int
	peers    chan dht.PeersValues
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
		peers:    make(chan dht.PeersValues),
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
func (a *announce) Peers() <-chan dht.PeersValues { return a.peers }

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
		if len(found) > 0 {
			if !a.send(ctx, found) {
				return
			}
			delay = cfg.Interval
		}
		if !a.sleep(ctx, delay) {
			return
		}
		delay = min(delay*2, cfg.Interval)
	}
}

func (a *announce) lookup(ctx context.Context) []netip.AddrPort {
	cfg := a.s.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.AnnounceTimeout)
	defer cancel()
	a.s.lookups.Add(1)
	var found []netip.AddrPort
	var err error
	if a.port == 0 {
		found, err = cfg.Node.GetPeers(ctx, a.infohash)
	} else {
		found, err = cfg.Node.Announce(ctx, a.infohash, a.port, false)
	}
	if err != nil {
		a.s.lookupErrs.Add(1)
		cfg.Logger.Debug("torrentdht: announce", "infohash", hex.EncodeToString(a.infohash[:]), "err", err)
	}
	return found
}

func (a *announce) send(ctx context.Context, found []netip.AddrPort) bool {
	pv := dht.PeersValues{Peers: make([]dht.Peer, 0, len(found))}
	for _, ap := range found {
		if !ap.IsValid() || ap.Port() == 0 {
			continue
		}
		pv.Peers = append(pv.Peers, krpc.NodeAddr{IP: ap.Addr().Unmap().AsSlice(), Port: int(ap.Port())})
	}
	if len(pv.Peers) == 0 {
		return true
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
