package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/snapshot/versions"
	"github.com/dhtdb/dhtdb/swarm"
	"github.com/dhtdb/dhtdb/syncer"
)

// Network is the real network behind a daemon: pointers through a dht.Node,
// versions through a swarm.Swarm, kept in one snapshot/versions store per
// database. It implements Pointers, Transfers and db's Snapshotter, Seeder
// and Putter.
type Network struct {
	DHT   *dht.Node
	Swarm *swarm.Swarm
	// Metrics, when set, counts the bytes of fetched versions.
	Metrics *Metrics

	mu     sync.Mutex
	stores map[string]*versions.Store // by directory
}

var (
	_ Pointers       = (*Network)(nil)
	_ Transfers      = (*Network)(nil)
	_ db.Snapshotter = (*Network)(nil)
	_ db.Seeder      = (*Network)(nil)
	_ db.Putter      = (*Network)(nil)
	_ db.Getter      = (*Network)(nil)
	_ db.Fetcher     = fetcher{}
)

// Get implements Pointers over dht.Node.Get.
func (n *Network) Get(ctx context.Context, addr record.Address, minSeq int64) (bep44.Item, int, error) {
	res, err := n.DHT.Get(ctx, dht.GetRequest{PublicKey: addr.PublicKey[:], Salt: addr.Salt(), MinSeq: minSeq})
	if errors.Is(err, dht.ErrNotFound) {
		return bep44.Item{}, 0, fmt.Errorf("%w: %w", ErrNoPointer, err)
	}
	if err != nil {
		return bep44.Item{}, 0, err
	}
	return res.Item, res.Found, nil
}

// Put implements Pointers and db.Putter over dht.Node.Put.
func (n *Network) Put(ctx context.Context, it bep44.Item, cas int64, hasCAS bool) (db.PutResult, error) {
	rep, err := n.DHT.Put(ctx, it, dht.PutOptions{CAS: cas, HasCAS: hasCAS})
	return db.PutResult{Stored: rep.Stored, Rejected: rep.Rejected}, err
}

// store returns the versions store in dir, opening it once.
func (n *Network) store(dir string) (*versions.Store, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.stores[dir]; s != nil {
		return s, nil
	}
	s, err := versions.Open(versions.Config{Dir: dir})
	if err != nil {
		return nil, err
	}
	if n.stores == nil {
		n.stores = map[string]*versions.Store{}
	}
	n.stores[dir] = s
	return s, nil
}

// Snapshot implements db.Snapshotter: a backup of live into the versions
// store as seq, with its deterministic torrent.
func (n *Network) Snapshot(ctx context.Context, live, dir, name string, seq int64) (db.Version, error) {
	s, err := n.store(dir)
	if err != nil {
		return db.Version{}, err
	}
	v, _, err := s.AddSnapshot(ctx, live, name, seq)
	if err != nil {
		return db.Version{}, err
	}
	if err := n.Swarm.SeedStore(s); err != nil { // seeds it, stops seeding the versions dropped
		return db.Version{}, err
	}
	return db.Version{IH: syncer.Hash(v.InfoHash), Size: v.Size, Path: v.Path}, nil
}

// Seed implements db.Seeder: the version, kept in its store, is seeded.
func (n *Network) Seed(ctx context.Context, v db.Version) error {
	s, err := n.store(filepath.Dir(v.Path))
	if err != nil {
		return err
	}
	sv, err := s.Get(metainfo.Hash(v.IH))
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if _, err := n.Swarm.Seed(sv.Path, sv.Info); err != nil {
		return err
	}
	return nil
}

// Fetcher returns n as a db.Fetcher (fetches without progress reports).
func (n *Network) Fetcher() db.Fetcher { return fetcher{n} }

type fetcher struct{ n *Network }

func (f fetcher) Fetch(ctx context.Context, d *db.DB, ih, base syncer.Hash, hasBase bool) (string, error) {
	return f.n.Fetch(ctx, d, ih, base, hasBase, nil)
}

// Fetch implements Transfers: the swarm downloads ih into d's versions
// directory, copying the pieces of base it already holds.
func (n *Network) Fetch(ctx context.Context, d *db.DB, ih, base syncer.Hash, hasBase bool, progress func(FetchProgress)) (string, error) {
	s, err := n.store(d.VersionsDir())
	if err != nil {
		return "", err
	}
	if v, err := s.Get(metainfo.Hash(ih)); err == nil {
		return v.Path, nil // held already (fetched before a restart, or published here)
	}
	opts := swarm.FetchOptions{Name: db.TorrentName(d.Address().Name), Dir: s.Dir()}
	if progress != nil {
		opts.Progress = func(ev swarm.Event) { progress(progressOf(ev)) }
	}
	if hasBase {
		if bv, err := s.Get(metainfo.Hash(base)); err == nil {
			opts.Base = &swarm.Version{Path: bv.Path, Info: bv.Info}
		}
	}
	path, err := n.Swarm.Fetch(ctx, metainfo.Hash(ih), opts)
	for errors.Is(err, swarm.ErrBusy) {
		// A cancelled fetch of the same version (restarted with a newer
		// base) is still winding down.
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		path, err = n.Swarm.Fetch(ctx, metainfo.Hash(ih), opts)
	}
	if errors.Is(err, swarm.ErrRefused) || errors.Is(err, swarm.ErrCheck) {
		return "", fmt.Errorf("%w: %w", ErrBadVersion, err)
	}
	return path, err
}

// Install implements Transfers: the fetched file joins the versions store
// (the newest five are kept and seeded) and a copy of it, checked, replaces
// the live database atomically.
func (n *Network) Install(ctx context.Context, d *db.DB, ih syncer.Hash, path string, seq int64) error {
	s, err := n.store(d.VersionsDir())
	if err != nil {
		return err
	}
	v, err := s.Get(metainfo.Hash(ih))
	if err != nil {
		// The swarm knows the info of what it fetched; hash only if not.
		info, ok := n.Swarm.Info(metainfo.Hash(ih))
		if !ok {
			if info, err = snapshot.NewInfo(ctx, path, db.TorrentName(d.Address().Name)); err != nil {
				return fmt.Errorf("install: %w", err)
			}
		}
		if got, err := snapshot.InfoHash(info); err != nil || syncer.Hash(got) != ih {
			os.Remove(path)
			return fmt.Errorf("install: fetched file is not version %s", ih)
		}
		if v, _, err = s.Add(path, info, seq); err != nil {
			return fmt.Errorf("install: %w", err)
		}
		if n.Metrics != nil {
			n.Metrics.FetchedBytes.Add(v.Size)
		}
	}
	if err := snapshot.InstallCopy(ctx, v.Path, d.LivePath()); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if err := n.Swarm.SeedStore(s); err != nil {
		return fmt.Errorf("install: seed: %w", err)
	}
	if n.Metrics != nil {
		st := n.Swarm.Stats()
		n.Metrics.DownloadedBytes.Store(st.BytesReadData.Int64())
	}
	return nil
}

// Resume implements Transfers: every version kept for d is seeded again.
func (n *Network) Resume(ctx context.Context, d *db.DB) error {
	s, err := n.store(d.VersionsDir())
	if err != nil {
		return err
	}
	return n.Swarm.SeedStore(s)
}

func progressOf(ev swarm.Event) FetchProgress {
	return FetchProgress{IH: ev.Infohash.HexString(), Phase: ev.Phase.String(), BytesDone: ev.Done, BytesTotal: ev.Length,
		PiecesDone: ev.PiecesDone, PiecesTotal: ev.Pieces, Peers: ev.Peers, RateBps: ev.Rate, ReusedBytes: ev.Reused,
		Received: ev.Received, ElapsedMS: ev.Elapsed.Milliseconds()}
}
