package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/keyfile"
	"github.com/dhtdb/dhtdb/swarm"
	"github.com/dhtdb/dhtdb/syncer"
)

// Defaults of Config.
const (
	DefaultHTTPAddr = "127.0.0.1:7881"
	DefaultDHTAddr  = "0.0.0.0:6881"
	// DefaultBootstrapTimeout bounds the DHT join Start waits for.
	DefaultBootstrapTimeout = 15 * time.Second
)

// InfoFile is the file in the data directory that tells other commands a
// daemon runs there and where its API listens (JSON: Info).
const InfoFile = "daemon.json"

// Config configures a daemon.
type Config struct {
	// DataDir is the data directory (see package db). Required.
	DataDir string
	// HTTPAddr is where the API listens; it must be a loopback address.
	// "": DefaultHTTPAddr; port 0 picks a free port.
	HTTPAddr string
	// DHTAddr is the UDP address of the DHT node. "": DefaultDHTAddr.
	DHTAddr string
	// DHTConn, when set, is the DHT node's socket instead of listening on
	// DHTAddr (a simnet conn, or a wrapper counting bytes). The daemon
	// closes it.
	DHTConn net.PacketConn
	// TorrentAddr is the torrent client's listen address. "": swarm's
	// default (any address, a free port).
	TorrentAddr string
	// DownloadRate and UploadRate limit the torrent client's piece traffic
	// in bytes per second; 0: unlimited.
	DownloadRate, UploadRate int64
	// Bootstrap lists the DHT nodes to join through ("host:port"). Empty
	// means none: the node waits to be contacted (the first node of a
	// test network). The CLI passes the public routers by default.
	Bootstrap []string
	// Sync tunes the sync engine; zero fields take syncer's defaults.
	Sync syncer.Config
	// Debounce is the automatic publish rule after writes.
	Debounce db.Debounce
	// NoJournal turns off the write journal of owned databases
	// (db.Config.Journal), which is on by default: with it, tables need a
	// PRIMARY KEY, and writers sharing a key lose no write.
	// JournalPolicy is its same-row conflict rule.
	NoJournal     bool
	JournalPolicy journal.Policy
	// Passphrase unlocks encrypted key files. nil: plaintext key files only.
	Passphrase func() (string, error)
	// Clock and Logger: nil means clock.Real{} and discard.
	Clock  clock.Clock
	Logger *slog.Logger
}

// Info says where a running daemon listens.
type Info struct {
	HTTP    string `json:"http"`    // API address host:port
	DHT     string `json:"dht"`     // DHT node UDP address
	Torrent string `json:"torrent"` // torrent client address
	PID     int    `json:"pid"`
}

func (c Config) withDefaults() Config {
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.DHTAddr == "" {
		c.DHTAddr = DefaultDHTAddr
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	if c.DataDir == "" {
		return errors.New("daemon: no data directory")
	}
	ap, err := netip.ParseAddrPort(c.HTTPAddr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("daemon: HTTP address %q is not a loopback address", c.HTTPAddr)
	}
	return nil
}

// Daemon is a running node: DHT node, torrent client, sync engine, API.
type Daemon struct {
	cfg    Config
	node   *dht.Node
	swarm  *swarm.Swarm
	store  *db.Store
	runner *Runner
	http   *http.Server
	info   Info
	done   chan error
}

// Serve runs a daemon until ctx is done.
func Serve(ctx context.Context, cfg Config) error {
	d, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return d.Close()
}

// Start starts a daemon and returns once it listens.
func Start(ctx context.Context, cfg Config) (_ *Daemon, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	log := cfg.Logger
	conn := cfg.DHTConn
	if conn == nil {
		if conn, err = net.ListenPacket("udp", cfg.DHTAddr); err != nil {
			return nil, fmt.Errorf("daemon: dht listen: %w", err)
		}
	}
	if d.node, err = dht.New(dht.Config{Conn: conn, Bootstrap: cfg.Bootstrap, Clock: cfg.Clock, Logger: log.With("part", "dht")}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if len(cfg.Bootstrap) > 0 {
		// Join before the first polls, so that they do not fail for want
		// of nodes (a failed poll waits for the retry interval).
		bctx, cancel := context.WithTimeout(ctx, DefaultBootstrapTimeout)
		if err := d.node.Bootstrap(bctx); err != nil {
			log.Warn("dht bootstrap", "err", err)
		}
		cancel()
	}
	metrics := &Metrics{}
	if d.swarm, err = swarm.New(swarm.Config{ListenAddr: cfg.TorrentAddr, DataDir: filepath.Join(cfg.DataDir, "swarm"),
		DownloadRate: cfg.DownloadRate, UploadRate: cfg.UploadRate,
		DHT: d.node, Clock: cfg.Clock, Logger: log.With("part", "swarm")}); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	netw := &Network{DHT: d.node, Swarm: d.swarm, Metrics: metrics}
	if d.store, err = db.Open(db.Config{Dir: cfg.DataDir,
		Publish: db.PublishConfig{Snapshotter: netw, Seeder: netw, Putter: netw, Getter: netw, Fetcher: netw.Fetcher()},
		Journal: !cfg.NoJournal, JournalPolicy: cfg.JournalPolicy, Clock: cfg.Clock, Logger: log}); err != nil {
		return nil, err
	}
	if err := d.store.RemoveTemp(); err != nil { // leftovers of a crash
		log.Warn("remove temporary files", "err", err)
	}
	api := &API{Store: d.store, Passphrase: cfg.Passphrase, LoadKey: keyfile.Load, Logger: log}
	if d.runner, err = NewRunner(RunnerConfig{Store: d.store, Pointers: netw, Transfers: netw, Sync: cfg.Sync,
		Key: api.Key, Debounce: cfg.Debounce, Metrics: metrics, Clock: cfg.Clock, Logger: log.With("part", "sync")}); err != nil {
		return nil, err
	}
	api.Runner = d.runner
	if err := d.runner.Start(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("daemon: http listen: %w", err)
	}
	d.http = &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { d.done <- d.http.Serve(ln) }()
	d.info = Info{HTTP: ln.Addr().String(), DHT: d.node.Addr().String(), Torrent: d.swarm.Addr().String(), PID: os.Getpid()}
	b, _ := json.Marshal(d.info)
	if err := os.WriteFile(filepath.Join(cfg.DataDir, InfoFile), b, 0o600); err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	log.Info("daemon running", "http", d.info.HTTP, "dht", d.info.DHT, "torrent", d.info.Torrent)
	return d, nil
}

// Info says where the daemon listens.
func (d *Daemon) Info() Info { return d.info }

// Store is the daemon's data directory.
func (d *Daemon) Store() *db.Store { return d.store }

// Runner is the daemon's sync engine.
func (d *Daemon) Runner() *Runner { return d.runner }

// DHT is the daemon's DHT node.
func (d *Daemon) DHT() *dht.Node { return d.node }

// Close stops everything, in the reverse order of Start.
func (d *Daemon) Close() error {
	var errs []error
	if d.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, d.http.Shutdown(ctx))
		cancel()
		os.Remove(filepath.Join(d.cfg.DataDir, InfoFile))
	}
	if d.runner != nil {
		errs = append(errs, d.runner.Close())
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	if d.swarm != nil {
		errs = append(errs, d.swarm.Close())
	}
	if d.node != nil {
		errs = append(errs, d.node.Close())
	}
	return errors.Join(errs...)
}

// ReadInfo returns the Info of the daemon running on dataDir, if any
// (os.ErrNotExist when none).
func ReadInfo(dataDir string) (Info, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, InfoFile))
	if err != nil {
		return Info{}, err
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		return Info{}, fmt.Errorf("read %s: %w", InfoFile, err)
	}
	return info, nil
}
