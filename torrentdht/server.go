package torrentdht

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/dht"
)

// Node is what the adapter needs from a DHT node. *dht.Node implements it.
type Node interface {
	ID() [20]byte
	Addr() netip.AddrPort
	// AddNode pings addr and adds it to the routing table if it answers.
	AddNode(addr netip.AddrPort) error
	Ping(ctx context.Context, addr netip.AddrPort) ([20]byte, error)
	// GetPeers looks up the peers of infohash (get_peers). It returns the
	// peers found, which may be none, and an error only when the lookup
	// itself failed.
	GetPeers(ctx context.Context, infohash [20]byte) ([]netip.AddrPort, error)
	// Announce is GetPeers followed by announce_peer of port to the
	// closest nodes.
	Announce(ctx context.Context, infohash [20]byte, port int, impliedPort bool) ([]netip.AddrPort, error)
}

// Defaults of Config.
const (
	DefaultRetry           = time.Second
	DefaultInterval        = 5 * time.Minute
	DefaultAnnounceTimeout = 30 * time.Second
	DefaultPingTimeout     = 10 * time.Second
	DefaultMaxPings        = 16
)

// Config configures a Server.
type Config struct {
	// Node is the DHT node peers are found through. Required.
	Node Node
	// Retry is the wait before the second lookup of an announce that has
	// not found any peer yet; it doubles up to Interval. 0: DefaultRetry.
	Retry time.Duration
	// Interval is the wait between lookups once peers have been found.
	// 0: DefaultInterval.
	Interval time.Duration
	// AnnounceTimeout bounds one lookup. 0: DefaultAnnounceTimeout.
	AnnounceTimeout time.Duration
	// PingTimeout bounds a ping sent for a peer's PORT message.
	// 0: DefaultPingTimeout.
	PingTimeout time.Duration
	// MaxPings caps the pings in flight for PORT messages; more are
	// dropped, so that peers cannot make the node ping without bound.
	// 0: DefaultMaxPings.
	MaxPings int
	// Clock schedules the repeats. nil: clock.Real{}.
	Clock clock.Clock
	// Logger receives lookup failures at debug level. nil: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Node == nil {
		return c, errors.New("torrentdht: config: no node")
	}
	if c.Retry < 0 || c.Interval < 0 || c.AnnounceTimeout < 0 || c.PingTimeout < 0 || c.MaxPings < 0 {
		return c, errors.New("torrentdht: config: negative duration or count")
	}
	if c.Retry == 0 {
		c.Retry = DefaultRetry
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Retry > c.Interval {
		c.Retry = c.Interval
	}
	if c.AnnounceTimeout == 0 {
		c.AnnounceTimeout = DefaultAnnounceTimeout
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.MaxPings == 0 {
		c.MaxPings = DefaultMaxPings
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Server is a torrent.DhtServer backed by a dhtdb DHT node.
type Server struct {
	cfg   Config
	pings chan struct{} // semaphore of pings in flight

	lookups    atomic.Int64
	lookupErrs atomic.Int64
	peersFound atomic.Int64
	pingsDone  atomic.Int64
	pingsShed  atomic.Int64

	mu        sync.Mutex
	announces map[*announce]struct{}
}

var (
	_ torrent.DhtServer = (*Server)(nil)
	_ Node              = (*dht.Node)(nil)
	_ streamer          = (*dht.Node)(nil)
)

// New returns a Server for cfg.Node.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:       cfg,
		pings:     make(chan struct{}, cfg.MaxPings),
		announces: make(map[*announce]struct{}),
	}, nil
}

// Stats is what Server.Stats returns.
type Stats struct {
	Announces  int   // announces open now
	Lookups    int64 // lookups run
	LookupErrs int64 // lookups that failed
	PeersFound int64 // peer addresses handed to the client (with repeats)
	Pings      int64 // pings sent for PORT messages
	PingsShed  int64 // PORT-message pings dropped because MaxPings were in flight
	// Node is the node's own statistics, when it has them (*dht.Node).
	Node any
}

// Stats returns a Stats.
func (s *Server) Stats() any { return s.stats() }

func (s *Server) stats() Stats {
	s.mu.Lock()
	n := len(s.announces)
	s.mu.Unlock()
	var node any
	if ns, ok := s.cfg.Node.(interface{ Stats() dht.Stats }); ok {
		node = ns.Stats()
	}
	return Stats{
		Node:       node,
		Announces:  n,
		Lookups:    s.lookups.Load(),
		LookupErrs: s.lookupErrs.Load(),
		PeersFound: s.peersFound.Load(),
		Pings:      s.pingsDone.Load(),
		PingsShed:  s.pingsShed.Load(),
	}
}

// ID returns the node's id.
func (s *Server) ID() [20]byte { return s.cfg.Node.ID() }

// Addr returns the node's UDP address (the client sends its port to peers in
// PORT messages).
func (s *Server) Addr() net.Addr { return net.UDPAddrFromAddrPort(s.cfg.Node.Addr()) }

// AddNode adds a node the client learnt of (from a torrent file's nodes or
// Client.AddDhtNodes).
func (s *Server) AddNode(ni krpc.NodeInfo) error {
	ap, err := addrPort(ni.Addr.IP, ni.Addr.Port)
	if err != nil {
		return fmt.Errorf("torrentdht: add node: %w", err)
	}
	return s.cfg.Node.AddNode(ap)
}

// Ping pings a peer's DHT node, announced in a PORT message, so that it
// joins the routing table if it answers. The client calls it in a goroutine
// of its own; at most MaxPings run at once and the rest are dropped.
func (s *Server) Ping(addr *net.UDPAddr) {
	if addr == nil {
		return
	}
	ap, err := addrPort(addr.IP, addr.Port)
	if err != nil {
		return
	}
	select {
	case s.pings <- struct{}{}:
	default:
		s.pingsShed.Add(1)
		return
	}
	defer func() { <-s.pings }()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.PingTimeout)
	defer cancel()
	s.pingsDone.Add(1)
	if _, err := s.cfg.Node.Ping(ctx, ap); err != nil {
		s.cfg.Logger.Debug("torrentdht: ping", "addr", ap, "err", err)
	}
}

// WriteStatus writes the node id and the adapter's counters.
func (s *Server) WriteStatus(w io.Writer) {
	st := s.stats()
	fmt.Fprintf(w, "dhtdb node %x at %v\n", s.ID(), s.cfg.Node.Addr())
	fmt.Fprintf(w, "announces open %d, lookups %d (%d failed), peers found %d, pings %d (%d shed)\n",
		st.Announces, st.Lookups, st.LookupErrs, st.PeersFound, st.Pings, st.PingsShed)
}

func addrPort(ip net.IP, port int) (netip.AddrPort, error) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad ip %q", ip)
	}
	if port <= 0 || port > 65535 {
		return netip.AddrPort{}, fmt.Errorf("bad port %d", port)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}
