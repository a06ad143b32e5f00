package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/dhtdb/dhtdb/internal/ltpeer"
	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/swarm"
)

// Defaults of SyncConfig: the scenario of `dhtdb bench sync`.
const (
	DefaultSyncSize      int64 = 256 << 20
	DefaultSyncDeltaSize int64 = 100 << 20
	// syncRowBytes is the random payload of one row of the benchmark
	// databases (about four rows per 4 KiB page).
	syncRowBytes = 900
	// syncName is the torrent name of the benchmark snapshots.
	syncName = "bench.sqlite"
)

// DefaultSyncDeltaRows are the row counts changed between versions in the
// delta runs.
var defaultSyncDeltaRows = []int{1, 1000}

// SyncConfig describes one run of the sync benchmark.
type SyncConfig struct {
	// Size is the database size of the full transfer. 0: DefaultSyncSize.
	Size int64
	// DeltaSize is the database size of the delta runs.
	// 0: DefaultSyncDeltaSize.
	DeltaSize int64
	// DeltaRows are the rows changed, one delta run each. nil: 1 and 1000.
	DeltaRows []int
	// Dir is the scratch directory; "": a temporary one, removed after.
	Dir string
	// NoLibtorrent skips the libtorrent comparison.
	NoLibtorrent bool
	// InProcess fetches in this process instead of a child process; the
	// peak RSS is then not measured.
	InProcess bool
	// Seed picks the rows the delta runs change.
	Seed uint64
	// Timeout bounds each transfer; 0: 10 minutes.
	Timeout time.Duration
}

func (c SyncConfig) withDefaults() (SyncConfig, error) {
	if c.Size == 0 {
		c.Size = DefaultSyncSize
	}
	if c.DeltaSize == 0 {
		c.DeltaSize = DefaultSyncDeltaSize
	}
	if c.DeltaRows == nil {
		c.DeltaRows = defaultSyncDeltaRows
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Size < 64<<10 || c.DeltaSize < 64<<10 {
		return c, fmt.Errorf("size %d / delta size %d: at least 64 KiB", c.Size, c.DeltaSize)
	}
	for _, n := range c.DeltaRows {
		if n < 1 {
			return c, fmt.Errorf("delta rows %d: at least 1", n)
		}
	}
	return c, nil
}

// FullResult is the full transfer: a fresh node fetches a snapshot from a
// seeder, then libtorrent fetches the same snapshot from the same seeder.
type FullResult struct {
	Bytes int64 `json:"bytes"`
	// OursMiBps is the size over the time from Fetch to the last piece
	// (metadata included, SQLite check excluded).
	OursMiBps    float64 `json:"ours_mibps"`
	OursSeconds  float64 `json:"ours_seconds"`
	CheckSeconds float64 `json:"check_seconds"` // the quick_check that follows
	// LibtorrentMiBps is the same for libtorrent, from add_magnet to
	// complete (0 when not run).
	LibtorrentMiBps   float64 `json:"libtorrent_mibps"`
	LibtorrentSeconds float64 `json:"libtorrent_seconds,omitempty"`
	LibtorrentVersion string  `json:"libtorrent_version,omitempty"`
	LibtorrentError   string  `json:"libtorrent_error,omitempty"`
	// Ratio is OursMiBps / LibtorrentMiBps (target ≥ 1).
	Ratio float64 `json:"ratio,omitempty"`
}

// DeltaResult is one delta run: a follower holding version N fetches N+1.
type DeltaResult struct {
	RowsChanged   int     `json:"rows_changed"`
	DBBytes       int64   `json:"db_bytes"`
	ReceivedBytes int64   `json:"received_bytes"` // everything read from peers: pieces, metadata, protocol
	Ratio         float64 `json:"ratio"`          // received / db (target ≤ 1%)
	PiecesChanged int     `json:"pieces_changed"`
	Pieces        int     `json:"pieces"`
	PieceLength   int64   `json:"piece_length"`
	Seconds       float64 `json:"seconds"`
}

// SyncResult is the outcome of RunSync.
type SyncResult struct {
	Full FullResult `json:"full"`
	// Delta is the first delta run (one row by default); Deltas all.
	Delta  DeltaResult   `json:"delta"`
	Deltas []DeltaResult `json:"deltas"`
	// PeakRSSBytes is the fetching node's peak resident set (VmHWM of the
	// child process that ran the full fetch); 0 when not measured.
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
	Seconds      float64 `json:"seconds"`
}

// RunSync runs the sync benchmark on loopback, writing progress lines to
// progress (nil: none).
func RunSync(ctx context.Context, cfg SyncConfig, progress io.Writer) (SyncResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return SyncResult{}, fmt.Errorf("bench sync: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	start := time.Now()
	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "dhtdb-bench-sync-*"); err != nil {
			return SyncResult{}, err
		}
		defer os.RemoveAll(dir)
	}
	var res SyncResult
	if err := runFull(ctx, cfg, dir, progress, &res); err != nil {
		return res, fmt.Errorf("bench sync: full: %w", err)
	}
	if err := runDeltas(ctx, cfg, dir, progress, &res); err != nil {
		return res, fmt.Errorf("bench sync: delta: %w", err)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func mibps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / (1 << 20) / d.Seconds()
}

// newSeeder starts a swarm on loopback seeding the snapshot at path.
func newSeeder(ctx context.Context, dir, path string) (*swarm.Swarm, swarm.Version, error) {
	info, err := snapshot.NewInfo(ctx, path, syncName)
	if err != nil {
		return nil, swarm.Version{}, err
	}
	sw, err := swarm.New(swarm.Config{ListenAddr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		return nil, swarm.Version{}, err
	}
	if _, err := sw.Seed(path, info); err != nil {
		sw.Close()
		return nil, swarm.Version{}, err
	}
	return sw, swarm.Version{Path: path, Info: info}, nil
}

func runFull(ctx context.Context, cfg SyncConfig, dir string, progress io.Writer, res *SyncResult) error {
	fmt.Fprintf(progress, "full: making a %s database\n", sizeString(cfg.Size))
	live := filepath.Join(dir, "full-live.db")
	if err := makeSyncDB(ctx, live, cfg.Size); err != nil {
		return err
	}
	snapPath := filepath.Join(dir, "full-snap.db")
	if err := snapshot.Create(ctx, live, snapPath); err != nil {
		return err
	}
	os.Remove(live)
	seeder, v, err := newSeeder(ctx, filepath.Join(dir, "full-seeder"), snapPath)
	if err != nil {
		return err
	}
	defer seeder.Close()
	ih, _ := snapshot.InfoHash(v.Info)
	res.Full.Bytes = v.Info.Length

	fmt.Fprintf(progress, "full: ours fetching %s (%d pieces of %s) from %v\n",
		sizeString(v.Info.Length), v.Info.NumPieces(), sizeString(v.Info.PieceLength), seeder.Addr())
	job := childJob{Infohash: ih.HexString(), Peer: seeder.Addr().String(), Name: syncName,
		Dir: filepath.Join(dir, "full-fetcher"), Timeout: cfg.Timeout}
	var out childResult
	if cfg.InProcess {
		out, err = runChildJob(ctx, job)
	} else {
		out, err = spawnChild(ctx, job)
	}
	if err != nil {
		return fmt.Errorf("ours: %w", err)
	}
	res.Full.OursSeconds = out.TransferSeconds
	res.Full.CheckSeconds = out.CheckSeconds
	res.Full.OursMiBps = mibps(v.Info.Length, time.Duration(out.TransferSeconds*float64(time.Second)))
	res.PeakRSSBytes = out.PeakRSS
	fmt.Fprintf(progress, "full: ours %.1f MiB/s (%.2fs, check %.2fs), peak RSS %s\n",
		res.Full.OursMiBps, out.TransferSeconds, out.CheckSeconds, sizeString(out.PeakRSS))
	os.RemoveAll(job.Dir)

	if cfg.NoLibtorrent {
		return nil
	}
	if err := runLibtorrent(ctx, cfg, dir, seeder, ih, res, progress); err != nil {
		res.Full.LibtorrentError = err.Error()
		fmt.Fprintf(progress, "full: libtorrent: %v\n", err)
	}
	return nil
}

func runLibtorrent(ctx context.Context, cfg SyncConfig, dir string, seeder *swarm.Swarm, ih [20]byte, res *SyncResult, progress io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	lt, err := ltpeer.Start(ctx, ltpeer.Config{NoDHT: true})
	if err != nil {
		return err
	}
	defer lt.Close()
	res.Full.LibtorrentVersion = lt.Version()
	ltDir := filepath.Join(dir, "full-libtorrent")
	if err := os.MkdirAll(ltDir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(ltDir)
	fmt.Fprintf(progress, "full: libtorrent %s fetching the same snapshot from the same seeder\n", lt.Version())
	t0 := time.Now()
	if err := lt.AddMagnet(ctx, ih, ltpeer.AddOptions{SaveDir: ltDir, Peers: []netip.AddrPort{seeder.Addr()}}); err != nil {
		return err
	}
	if _, err := lt.WaitComplete(ctx, ih); err != nil {
		return err
	}
	took := time.Since(t0)
	res.Full.LibtorrentSeconds = took.Seconds()
	res.Full.LibtorrentMiBps = mibps(res.Full.Bytes, took)
	if res.Full.LibtorrentMiBps > 0 {
		res.Full.Ratio = res.Full.OursMiBps / res.Full.LibtorrentMiBps
	}
	fmt.Fprintf(progress, "full: libtorrent %.1f MiB/s (%.2fs)\n", res.Full.LibtorrentMiBps, took.Seconds())
	return nil
}

func runDeltas(ctx context.Context, cfg SyncConfig, dir string, progress io.Writer, res *SyncResult) error {
	fmt.Fprintf(progress, "delta: making a %s database\n", sizeString(cfg.DeltaSize))
	live := filepath.Join(dir, "delta-live.db")
	if err := makeSyncDB(ctx, live, cfg.DeltaSize); err != nil {
		return err
	}
	seeder, err := swarm.New(swarm.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "delta-seeder")})
	if err != nil {
		return err
	}
	defer seeder.Close()
	follower, err := swarm.New(swarm.Config{ListenAddr: "127.0.0.1:0", DataDir: filepath.Join(dir, "delta-follower")})
	if err != nil {
		return err
	}
	defer follower.Close()

	publish := func(n int) (swarm.Version, [20]byte, error) {
		path := filepath.Join(dir, fmt.Sprintf("delta-v%d.db", n))
		if err := snapshot.Create(ctx, live, path); err != nil {
			return swarm.Version{}, [20]byte{}, err
		}
		info, err := snapshot.NewInfo(ctx, path, syncName)
		if err != nil {
			return swarm.Version{}, [20]byte{}, err
		}
		ih, err := seeder.Seed(path, info)
		return swarm.Version{Path: path, Info: info}, ih, err
	}
	fetch := func(ih [20]byte, base *swarm.Version) (swarm.Version, swarm.Event, error) {
		fctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
		var last swarm.Event
		path, err := follower.Fetch(fctx, ih, swarm.FetchOptions{Name: syncName, Base: base,
			Peers: []netip.AddrPort{seeder.Addr()}, Progress: func(ev swarm.Event) { last = ev }})
		if err != nil {
			return swarm.Version{}, last, err
		}
		info, _ := follower.Info(ih)
		return swarm.Version{Path: path, Info: info}, last, nil
	}

	v, ih, err := publish(0)
	if err != nil {
		return err
	}
	held, _, err := fetch(ih, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "delta: follower holds version 0 (%s)\n", sizeString(v.Info.Length))
	rng := rand.New(rand.NewPCG(cfg.Seed, 2))
	rows, err := countRows(live)
	if err != nil {
		return err
	}
	for i, n := range cfg.DeltaRows {
		if err := changeRows(ctx, live, rng, rows, n); err != nil {
			return err
		}
		next, ih, err := publish(i + 1)
		if err != nil {
			return err
		}
		plan, err := snapshot.PlanDelta(held.Info, next.Info)
		if err != nil {
			return err
		}
		t0 := time.Now()
		got, last, err := fetch(ih, &held)
		if err != nil {
			return err
		}
		d := DeltaResult{
			RowsChanged: n, DBBytes: next.Info.Length, ReceivedBytes: last.Received,
			Ratio:         float64(last.Received) / float64(next.Info.Length),
			PiecesChanged: len(plan.Fetch), Pieces: next.Info.NumPieces(), PieceLength: next.Info.PieceLength,
			Seconds: time.Since(t0).Seconds(),
		}
		res.Deltas = append(res.Deltas, d)
		fmt.Fprintf(progress, "delta: %d rows changed: %d of %d pieces, received %s of %s (%.3f%%)\n",
			n, d.PiecesChanged, d.Pieces, sizeString(d.ReceivedBytes), sizeString(d.DBBytes), 100*d.Ratio)
		follower.Unseed(ih) // the seeder's copy is the same file set; keep the follower light
		held = got
	}
	if len(res.Deltas) > 0 {
		res.Delta = res.Deltas[0]
	}
	return nil
}
