package propagate

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/keyfile"
	"github.com/dhtdb/dhtdb/syncer"
)

// Defaults of Config.
const (
	DefaultReaders      = 20
	DefaultVersions     = 20
	DefaultPollInterval = time.Second
	DefaultDHTNodes     = 16
	DefaultRows         = 50
	DefaultTimeout      = time.Minute
)

// Config sizes the benchmark. Zero fields take the defaults.
type Config struct {
	Readers      int           // reader daemons
	Versions     int           // versions published and measured
	PollInterval time.Duration // the readers' poll interval (jittered ±10%)
	DHTNodes     int           // plain DHT nodes of the test network
	Rows         int           // rows of ~200 bytes inserted per version
	Timeout      time.Duration // longest wait for one version to reach every reader
	// Dir holds the data directories; "": a temporary directory, removed.
	Dir string
	// Progress, when set, receives one line per step.
	Progress func(string)
	// Logger receives the daemons' logs. nil: discard.
	Logger *slog.Logger
}

// Result holds the figures. Its JSON keys are those of `dhtdb bench propagate --json`.
type Result struct {
	Readers  int     `json:"readers"`
	Versions int     `json:"versions"`
	P50Ms    float64 `json:"p50_ms"` // commit -> every reader holds it, median over versions
	MaxMs    float64 `json:"max_ms"`
	// PerVersionMs is the commit-to-all-readers time of each version.
	PerVersionMs []float64 `json:"per_version_ms"`
	// IdlePollBytes and IdlePollPackets are the UDP bytes and packets (sent
	// and received) of one reader's DHT node per poll of an unchanged
	// pointer, averaged over the readers.
	IdlePollBytes   float64 `json:"idle_poll_bytes"`
	IdlePollPackets float64 `json:"idle_poll_packets"`
	// IdlePutsPerPoll is how often an idle poll triggered a keep-alive
	// re-put (the pointer found on fewer than 8 of the closest nodes).
	IdlePutsPerPoll float64 `json:"idle_puts_per_poll"`
	PollIntervalMs  float64 `json:"poll_interval_ms"`
	DBBytes         int64   `json:"db_bytes"` // size of the last version
	// DownloadedPerVersion is the piece data a reader downloaded per
	// measured version, averaged over readers: what delta sync costs,
	// against DBBytes for a full copy.
	DownloadedPerVersion float64 `json:"downloaded_bytes_per_version"`
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Readers, DefaultReaders)
	def(&c.Versions, DefaultVersions)
	def(&c.DHTNodes, DefaultDHTNodes)
	def(&c.Rows, DefaultRows)
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Progress == nil {
		c.Progress = func(string) {}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	if c.Readers < 0 || c.Versions < 0 || c.DHTNodes < 0 || c.Rows < 0 || c.PollInterval < 0 || c.Timeout < 0 {
		return errors.New("propagate: negative size in config")
	}
	return nil
}

// Run runs the benchmark.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "dhtdb-propagate-"); err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
	}
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	boot, nodeClosers, err := testnet(ctx, cfg.DHTNodes)
	closers = append(closers, nodeClosers...)
	if err != nil {
		return Result{}, err
	}
	cfg.Progress(fmt.Sprintf("%d DHT nodes on loopback", cfg.DHTNodes))

	start := func(name string, conn net.PacketConn) (*daemon.Daemon, error) {
		d, err := daemon.Start(ctx, daemon.Config{
			DataDir: filepath.Join(dir, name), HTTPAddr: "127.0.0.1:0", DHTAddr: "127.0.0.1:0", DHTConn: conn,
			TorrentAddr: "127.0.0.1:0", Bootstrap: boot,
			Sync:     syncer.Config{PollInterval: cfg.PollInterval, FetchTimeout: 30 * time.Second, RetryInterval: cfg.PollInterval},
			Debounce: db.Debounce{Delay: time.Hour}, // publishes are explicit
			Logger:   cfg.Logger.With("node", name),
		})
		if err == nil {
			closers = append(closers, d.Close)
		}
		return d, err
	}
	w, err := start("writer", nil)
	if err != nil {
		return Result{}, err
	}
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		return Result{}, err
	}
	keyPath := filepath.Join(dir, "writer.key")
	if err := keyfile.Write(keyPath, key, keyfile.WriteOptions{Plaintext: true}); err != nil {
		return Result{}, err
	}
	addr, err := w.Store().Create("bench", key)
	if err != nil {
		return Result{}, err
	}
	if err := w.Runner().Add(addr); err != nil {
		return Result{}, err
	}
	wdb, _ := w.Store().DB(addr)
	if _, err := wdb.Exec(ctx, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		return Result{}, err
	}
	commit := func(version int) (syncer.Hash, error) {
		if _, err := wdb.Exec(ctx, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?) "+
			"INSERT INTO t(v) SELECT printf('%d-%0190d', ?, i) FROM n", cfg.Rows, version); err != nil {
			return syncer.Hash{}, err
		}
		rep, err := w.Runner().Publish(ctx, addr, key)
		return rep.IH, err
	}
	if _, err := commit(0); err != nil {
		return Result{}, fmt.Errorf("first publish: %w", err)
	}

	readers := make([]*daemon.Daemon, cfg.Readers)
	conns := make([]*countingConn, cfg.Readers)
	for i := range readers {
		if conns[i], err = listenCounting(); err != nil {
			return Result{}, err
		}
		if readers[i], err = start(fmt.Sprintf("reader%02d", i), conns[i]); err != nil {
			return Result{}, err
		}
		if _, err := readers[i].Store().Follow(addr); err != nil {
			return Result{}, err
		}
		if err := readers[i].Runner().Add(addr); err != nil {
			return Result{}, err
		}
	}
	cfg.Progress(fmt.Sprintf("writer and %d readers following %s", cfg.Readers, addr))
	holdAll := func(ih syncer.Hash) bool {
		for _, r := range readers {
			st, err := r.Runner().Status(addr)
			if err != nil || st.Current != ih.String() {
				return false
			}
		}
		return true
	}
	wait := func(ih syncer.Hash) (time.Duration, error) {
		t0 := time.Now()
		for !holdAll(ih) {
			if time.Since(t0) > cfg.Timeout {
				return 0, fmt.Errorf("version %s did not reach every reader within %v", ih, cfg.Timeout)
			}
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
		return time.Since(t0), nil
	}
	ih, err := commit(1)
	if err != nil {
		return Result{}, err
	}
	if _, err := wait(ih); err != nil { // warm-up: every reader holds a version
		return Result{}, err
	}

	res = Result{Readers: cfg.Readers, Versions: cfg.Versions, PollIntervalMs: ms(cfg.PollInterval)}
	downloaded := func() (n int64) {
		for _, r := range readers {
			n += r.Runner().Metrics().DownloadedBytes.Load()
		}
		return n
	}
	d0 := downloaded()
	for v := range cfg.Versions {
		t0 := time.Now()
		ih, err := commit(v + 2)
		if err != nil {
			return res, err
		}
		if _, err := wait(ih); err != nil {
			return res, err
		}
		d := time.Since(t0)
		res.PerVersionMs = append(res.PerVersionMs, ms(d))
		cfg.Progress(fmt.Sprintf("version %d: every reader in %v", v+1, d.Round(time.Millisecond)))
	}
	if cfg.Readers > 0 && cfg.Versions > 0 {
		res.DownloadedPerVersion = float64(downloaded()-d0) / float64(cfg.Readers*cfg.Versions)
	}
	sorted := slices.Sorted(slices.Values(res.PerVersionMs))
	if len(sorted) > 0 {
		res.P50Ms, res.MaxMs = sorted[len(sorted)/2], sorted[len(sorted)-1]
	}
	if st, err := wdb.Query(ctx, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size"); err == nil {
		res.DBBytes, _ = st.Rows[0][0].(int64)
	}

	// Idle: nothing changes; count the readers' DHT traffic per poll.
	if cfg.Readers > 0 {
		window := 10 * cfg.PollInterval
		cfg.Progress(fmt.Sprintf("idle for %v", window))
		p0, b0, n0, u0 := traffic(conns, readers)
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(window):
		}
		p1, b1, n1, u1 := traffic(conns, readers)
		if polls := n1 - n0; polls > 0 {
			res.IdlePutsPerPoll = float64(u1-u0) / float64(polls)
			res.IdlePollPackets = float64(p1-p0) / float64(polls)
			res.IdlePollBytes = float64(b1-b0) / float64(polls)
		}
	}
	return res, nil
}

// traffic sums the readers' DHT packets, bytes, polls and puts.
func traffic(conns []*countingConn, readers []*daemon.Daemon) (packets, bytes, polls, puts int64) {
	for i, c := range conns {
		packets += c.packets.Load()
		bytes += c.bytes.Load()
		polls += readers[i].Runner().Metrics().Polls.Load()
		puts += readers[i].Runner().Metrics().Puts.Load()
	}
	return
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// testnet starts n DHT nodes on loopback, joined through the first.
func testnet(ctx context.Context, n int) ([]string, []func() error, error) {
	var addrs []string
	var closers []func() error
	for i := range n {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, closers, err
		}
		cfg := dht.Config{Conn: conn}
		if i > 0 {
			cfg.Bootstrap = addrs[:1]
		}
		node, err := dht.New(cfg)
		if err != nil {
			conn.Close()
			return nil, closers, err
		}
		closers = append(closers, node.Close)
		if i > 0 {
			bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := node.Bootstrap(bctx)
			cancel()
			if err != nil {
				return nil, closers, fmt.Errorf("bootstrap dht node %d: %w", i, err)
			}
		}
		addrs = append(addrs, node.Addr().String())
	}
	return addrs, closers, nil
}
