package dht

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"time"

	"github.com/dhtdb/dhtdb/clock"
)

// Defaults of Config.
const (
	// DefaultMaxItems caps the BEP 44 items a node stores (libtorrent: 700).
	DefaultMaxItems = 700
	// DefaultItemTTL is how long a stored item lives without a re-put (BEP 44: 2 h).
	DefaultItemTTL = 2 * time.Hour
	// DefaultQueryTimeout is the hard timeout of one query.
	DefaultQueryTimeout = 2 * time.Second
	// DefaultRateLimit is the sustained number of queries per second a node
	// answers from one source.
	DefaultRateLimit = 50
	// DefaultRateBurst is the burst of queries allowed from one source.
	DefaultRateBurst = 100
	// DefaultMaxPeersPerTorrent caps the peers stored for one infohash.
	DefaultMaxPeersPerTorrent = 200
	// DefaultMaxTorrents caps the infohashes with stored peers.
	DefaultMaxTorrents = 2000
	// DefaultPeerTTL is how long an announced peer is kept.
	DefaultPeerTTL = 30 * time.Minute
	// DefaultMaxFails is how many consecutive timeouts evict a node from the
	// routing table.
	DefaultMaxFails = 2
	// TokenRotation is how often the token secret rotates; a token is
	// accepted until the second rotation after it was issued (5 to 10 min).
	TokenRotation = 5 * time.Minute
	// BucketRefresh is the age after which a bucket without activity is
	// refreshed by a lookup of a random id in its range, and a node not heard
	// from is pinged.
	BucketRefresh = 15 * time.Minute
	// MaintenanceInterval is the period of the background maintenance
	// (expiry, bucket refresh, pings of questionable nodes).
	MaintenanceInterval = time.Minute
)

// ErrConfig is wrapped by the errors of New for an invalid Config.
var ErrConfig = errors.New("dht: invalid config")

// Config configures a Node. The zero value of every field but Conn selects a
// safe default.
type Config struct {
	// Conn is the socket the node serves on: a *net.UDPConn or a simnet
	// conn. ReadFrom must return *net.UDPAddr. Required. The node closes it
	// on Close.
	Conn net.PacketConn
	// ID is the node id. Zero: random, following BEP 42 when the local
	// address is public (loopback and private ranges are exempt).
	ID [20]byte
	// Bootstrap lists "host:port" nodes Bootstrap joins through.
	Bootstrap []string
	// ReadOnly makes the node read-only (BEP 43): it sends ro=1 in its
	// queries and answers no query.
	ReadOnly bool
	// Clock drives timeouts, token rotation and expiry. Nil: clock.Real{}.
	Clock clock.Clock
	// Rand is the random source (ids, transaction ids, refresh targets). It
	// is used under the node's lock. Nil: seeded from crypto/rand.
	Rand *mrand.Rand
	// Logger receives debug logs. Nil: discard.
	Logger *slog.Logger
	// MaxItems caps the stored BEP 44 items; when full, the least recently
	// put item is evicted. 0: DefaultMaxItems. Negative is an error.
	MaxItems int
	// ItemTTL is the lifetime of a stored item after its last put.
	// 0: DefaultItemTTL. Negative is an error.
	ItemTTL time.Duration
	// QueryTimeout is the hard timeout of one query. 0: DefaultQueryTimeout.
	QueryTimeout time.Duration
	// RateLimit is the sustained rate of queries per second answered per
	// source; excess queries are dropped. 0: DefaultRateLimit. Negative:
	// no limit.
	RateLimit float64
	// RateBurst is the burst allowed per source. 0: DefaultRateBurst.
	RateBurst int
	// RateLimitByIP keys the rate limit by IP alone instead of IP and port.
	// Off by default, because on loopback every node shares 127.0.0.1.
	RateLimitByIP bool
	// MaxPeersPerTorrent caps the peers stored per infohash.
	// 0: DefaultMaxPeersPerTorrent.
	MaxPeersPerTorrent int
	// MaxTorrents caps the infohashes with stored peers. 0: DefaultMaxTorrents.
	MaxTorrents int
	// PeerTTL is the lifetime of an announced peer. 0: DefaultPeerTTL.
	PeerTTL time.Duration
	// MaxFails is the number of consecutive query timeouts after which a
	// node is evicted from the routing table. 0: DefaultMaxFails.
	MaxFails int
	// EnforceBEP42 keeps nodes with public addresses whose ids do not follow
	// BEP 42 out of the routing table. Off by default, like libtorrent.
	EnforceBEP42 bool
	// SoftTimeout is how long a lookup waits for one answer before it also
	// asks another node (the slow one is still waited for until
	// QueryTimeout, but no longer delays the lookup's end).
	// 0: DefaultSoftTimeout.
	SoftTimeout time.Duration
	// LookupAlpha is the number of parallel (not stalled) queries of one
	// lookup. 0: DefaultLookupAlpha.
	LookupAlpha int
	// DisableBackground turns off the background maintenance (expiry sweep,
	// bucket refresh, pings). Tests then drive it with the clock and direct
	// calls. Expired items are never served either way.
	DisableBackground bool
}

func (c Config) withDefaults() (Config, error) {
	if c.Conn == nil {
		return c, fmt.Errorf("%w: Conn is required", ErrConfig)
	}
	if c.MaxItems < 0 || c.ItemTTL < 0 || c.QueryTimeout < 0 || c.RateBurst < 0 ||
		c.MaxPeersPerTorrent < 0 || c.MaxTorrents < 0 || c.PeerTTL < 0 || c.MaxFails < 0 ||
		c.SoftTimeout < 0 || c.LookupAlpha < 0 {
		return c, fmt.Errorf("%w: negative limit or duration", ErrConfig)
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Rand == nil {
		var seed [16]byte
		if _, err := io.ReadFull(rand.Reader, seed[:]); err != nil {
			return c, fmt.Errorf("seed random source: %w", err)
		}
		c.Rand = mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxItems, DefaultMaxItems)
	def(&c.RateBurst, DefaultRateBurst)
	def(&c.MaxPeersPerTorrent, DefaultMaxPeersPerTorrent)
	def(&c.MaxTorrents, DefaultMaxTorrents)
	def(&c.MaxFails, DefaultMaxFails)
	defDur(&c.ItemTTL, DefaultItemTTL)
	defDur(&c.QueryTimeout, DefaultQueryTimeout)
	defDur(&c.PeerTTL, DefaultPeerTTL)
	defDur(&c.SoftTimeout, DefaultSoftTimeout)
	def(&c.LookupAlpha, DefaultLookupAlpha)
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	c.Bootstrap = append([]string(nil), c.Bootstrap...)
	return c, nil
}
