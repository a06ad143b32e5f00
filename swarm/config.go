package swarm

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/torrentdht"
)

// Defaults of Config.
const (
	// DefaultListenAddr listens on every interface, on a free port.
	DefaultListenAddr = ":0"
	// DefaultProgressInterval is the time between two progress events.
	DefaultProgressInterval = 250 * time.Millisecond
	// DefaultMaxPeers caps the connections of one torrent.
	DefaultMaxPeers = 50
)

// Config configures a Swarm.
type Config struct {
	// ListenAddr is the host:port the torrent client accepts peers on
	// (TCP, and UDP for uTP when UTP is set). "": DefaultListenAddr.
	// Port 0 picks a free port; Swarm.Addr tells which.
	ListenAddr string
	// DataDir is where fetched versions are assembled when a fetch names
	// no directory of its own. Required.
	DataDir string
	// UploadRate and DownloadRate limit the client's piece traffic in
	// bytes per second; 0 means unlimited. The limits are the client's,
	// shared by every torrent it has.
	UploadRate, DownloadRate int64
	// UTP enables uTP besides TCP. Off by default: on loopback uTP is 40
	// to 2000 times slower than TCP, and the pure-Go uTP of a
	// CGO_ENABLED=0 build practically stalls.
	UTP bool
	// DHT is the node peers are found through and announced to
	// (*dht.Node). nil: no DHT, peers come only from FetchOptions.Peers
	// and Swarm.AddPeers.
	DHT torrentdht.Node
	// DHTRetry is the first wait between two lookups of a torrent that
	// has no peer yet (it doubles up to five minutes).
	// 0: torrentdht.DefaultRetry.
	DHTRetry time.Duration
	// MaxPeers caps the connections per torrent. 0: DefaultMaxPeers.
	MaxPeers int
	// ProgressInterval is the time between two progress events of a
	// fetch. 0: DefaultProgressInterval.
	ProgressInterval time.Duration
	// Clock paces progress events and DHT lookups. nil: clock.Real{}.
	Clock clock.Clock
	// Logger receives the client's log. nil: discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.DataDir == "" {
		return c, errors.New("swarm: config: no data dir")
	}
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if _, _, err := net.SplitHostPort(c.ListenAddr); err != nil {
		return c, fmt.Errorf("swarm: config: listen address: %w", err)
	}
	if c.UploadRate < 0 || c.DownloadRate < 0 {
		return c, errors.New("swarm: config: negative rate limit")
	}
	if c.MaxPeers < 0 || c.ProgressInterval < 0 || c.DHTRetry < 0 {
		return c, errors.New("swarm: config: negative peer cap or interval")
	}
	if c.MaxPeers == 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = DefaultProgressInterval
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
