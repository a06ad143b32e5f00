package db

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/syncer"
)

// Version is one snapshot of a database: a deterministic v1 torrent of the
// SQLite file's bytes.
type Version struct {
	IH   syncer.Hash `json:"ih"`
	Size int64       `json:"size"`
	Path string      `json:"path"`          // the snapshot file
	Seq  int64       `json:"seq,omitempty"` // the pointer seq publishing it (set by Publish)
}

// TorrentName is the name in the info dictionary of every snapshot of the
// database called name: name + ".sqlite" when that is a plain file name, else
// the hex of name + ".sqlite". Writers and readers must agree on it, since it
// is part of the infohash and readers refuse other names.
func TorrentName(name string) string {
	plain := name != "." && name != ".." && len(name)+7 <= 255
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			plain = false
		}
	}
	if plain {
		return name + ".sqlite"
	}
	return hex.EncodeToString([]byte(name)) + ".sqlite"
}

// Snapshotter makes versions of a live SQLite file.
//
// Snapshot copies the committed content of the database at live (a consistent
// read of SQLite's pages as they are, never VACUUM INTO) into the versions
// kept in dir, as the version seq would publish, and returns it. The torrent
// is named name (TorrentName of the database's name), so the same content
// gives the same IH on every call and machine. It must not modify live. The
// version stays available (to Seed, also after a restart) at least until
// newer versions replace it. On error nothing is published.
type Snapshotter interface {
	Snapshot(ctx context.Context, live, dir, name string, seq int64) (Version, error)
}

// Seeder offers versions to peers.
//
// Seed returns once v can be downloaded from this node (added to the torrent
// client and announced). Seeding a version already seeded is a no-op. On
// error the publish fails before anything is put, and is retried later.
type Seeder interface {
	Seed(ctx context.Context, v Version) error
}

// PutResult reports a put of the pointer.
type PutResult struct {
	Stored   int         `json:"stored"`             // nodes that stored the item
	Rejected map[int]int `json:"rejected,omitempty"` // BEP 44 error code -> nodes
}

// Putter stores signed items in the DHT.
//
// Put stores it on the closest nodes, with the BEP 44 cas when hasCAS. It
// returns the result even on error; err is non-nil exactly when no node
// stored the item.
type Putter interface {
	Put(ctx context.Context, it bep44.Item, cas int64, hasCAS bool) (PutResult, error)
}

// ErrNoPointer is wrapped by Getter.Get when no node holds the pointer.
var ErrNoPointer = errors.New("db: no pointer found")

// Getter reads pointers from the DHT.
//
// Get returns the newest verified item of addr with seq >= minSeq and how
// many of the closest nodes hold it. When nodes hold exactly minSeq and
// nothing newer, the item has Seq == minSeq and may carry no V. It wraps
// ErrNoPointer when no node holds seq >= minSeq.
type Getter interface {
	Get(ctx context.Context, addr record.Address, minSeq int64) (it bep44.Item, found int, err error)
}

// Fetcher downloads versions.
//
// Fetch downloads version ih of d, reusing the pieces of version base when
// hasBase, and returns the path of the complete file, checked as SQLite.
type Fetcher interface {
	Fetch(ctx context.Context, d *DB, ih, base syncer.Hash, hasBase bool) (string, error)
}

// PublishConfig is what Publish needs to reach the network.
type PublishConfig struct {
	Snapshotter Snapshotter
	Seeder      Seeder
	Putter      Putter
	// Getter and Fetcher let a writer with a journal read back its
	// publish and catch up with versions other writers published.
	Getter  Getter
	Fetcher Fetcher
}

// Errors of Publish.
var (
	// ErrOffline: the store has no network configured.
	ErrOffline = errors.New("db: publishing needs the network (no snapshotter, seeder or putter)")
	// ErrConflict: the storing nodes hold another pointer at our seq or
	// above (another writer with the same key published). Nothing of ours
	// was stored; the signed publish stays pending.
	ErrConflict = errors.New("db: another version was published concurrently")
)

// PublishReport says what a Publish achieved.
type PublishReport struct {
	Seq       int64          `json:"seq"`
	IH        syncer.Hash    `json:"ih"`
	Size      int64          `json:"size"`
	Put       PutResult      `json:"put"`
	Unchanged bool           `json:"unchanged,omitempty"` // nothing new to publish; Seq/IH are the current ones
	Retried   int64          `json:"retried,omitempty"`   // the seq of an earlier pending publish finished first
	Item      []byte         `json:"-"`                   // the signed item (EncodeItem bytes)
	Pointer   syncer.Pointer `json:"-"`
	// With the write journal (Config.Journal and a Getter and Fetcher):
	Attempts  int                `json:"attempts,omitempty"`       // puts made; more than 1 when another writer won a race
	Published []journal.ID       `json:"published,omitempty"`      // our writes now known to be in a published version
	Rejected  []journal.ID       `json:"rejected,omitempty"`       // our writes the conflict rule (PolicyReject) left out
	Conflicts []journal.Conflict `json:"conflicts,omitempty"`      // same-row conflicts decided on the way
	Pending   int                `json:"pending_writes,omitempty"` // our writes not yet in a confirmed version
	version   Version            // the snapshot put (for the confirmation)
}

// Publish publishes the working copy as the next version: snapshot, seed,
// record seq+1 with the previous ih moved into prev, signed with key, put with
// cas = previous seq (no cas for seq 1). A publish left pending by an earlier
// failure or crash is finished first, with the same signed bytes. When the
// working copy is unchanged since the last published version, nothing is put
// and the report says Unchanged.
func (d *DB) Publish(ctx context.Context, key ed25519.PrivateKey) (PublishReport, error) {
	d.pubmu.Lock()
	defer d.pubmu.Unlock()
	if d.Role() != RoleOwner {
		return PublishReport{}, fmt.Errorf("publish %s: %w", d.addr, ErrNotOwner)
	}
	if len(key) != ed25519.PrivateKeySize || [32]byte(key.Public().(ed25519.PublicKey)) != d.addr.PublicKey {
		return PublishReport{}, fmt.Errorf("publish %s: %w: the key does not match the address", d.addr, ErrNotOwner)
	}
	pc := d.store.cfg.Publish
	if pc.Snapshotter == nil || pc.Seeder == nil || pc.Putter == nil {
		return PublishReport{}, ErrOffline
	}
	if d.journaled() {
		return d.publishJournaled(ctx, key)
	}
	return d.publishOnce(ctx, key)
}

// publishOnce is one publish attempt (d.pubmu held): finish a pending
// publish, snapshot, sign seq+1, put with cas.
func (d *DB) publishOnce(ctx context.Context, key ed25519.PrivateKey) (PublishReport, error) {
	pc := d.store.cfg.Publish
	var retried int64
	if p := d.State().Pending; p != nil {
		rep, err := d.finish(ctx, p, false)
		if err != nil {
			return rep, fmt.Errorf("publish %s: finish pending seq %d: %w", d.addr, rep.Seq, err)
		}
		retried = rep.Seq
	}
	st := d.State()
	seq := st.Sync.Seq + 1
	v, err := pc.Snapshotter.Snapshot(ctx, d.LivePath(), d.VersionsDir(), TorrentName(d.addr.Name), seq)
	if err != nil {
		return PublishReport{}, fmt.Errorf("publish %s: snapshot: %w", d.addr, err)
	}
	if st.Sync.Item != nil && v.IH == st.Sync.Pointer.IH {
		return PublishReport{Seq: st.Sync.Seq, IH: v.IH, Size: v.Size, Unchanged: true, Retried: retried,
			Item: st.Sync.Item, Pointer: st.Sync.Pointer}, nil
	}
	var prev record.Record
	if st.Sync.Item != nil {
		it, err := DecodeItem(st.Sync.Item)
		if err != nil {
			return PublishReport{}, fmt.Errorf("publish %s: held pointer: %w", d.addr, err)
		}
		if prev, err = record.Decode(it.V); err != nil {
			return PublishReport{}, fmt.Errorf("publish %s: held pointer: %w", d.addr, err)
		}
	}
	rec := record.Next(prev, v.IH, v.Size, d.store.cfg.Clock.Now())
	val, err := rec.Encode()
	if err != nil {
		return PublishReport{}, fmt.Errorf("publish %s: %w", d.addr, err)
	}
	v.Seq = seq
	it, err := bep44.NewMutable(key, d.addr.Salt(), seq, val)
	if err != nil {
		return PublishReport{}, fmt.Errorf("publish %s: sign: %w", d.addr, err)
	}
	p := &Pending{Item: EncodeItem(it), Pointer: PointerOf(rec), CAS: st.Sync.Seq, HasCAS: st.Sync.Seq > 0, Version: v}
	if err := d.updateState(func(s *State) { s.Pending = p }); err != nil {
		return PublishReport{}, fmt.Errorf("publish %s: %w", d.addr, err)
	}
	rep, err := d.finish(ctx, p, true)
	rep.Retried = retried
	if err != nil {
		return rep, fmt.Errorf("publish %s: %w", d.addr, err)
	}
	return rep, nil
}

// finish seeds and puts the pending publish p and records it as published.
// A first attempt sends the cas; a retry sends the same bytes without, since
// nodes that stored them on an earlier attempt would answer a cas mismatch.
func (d *DB) finish(ctx context.Context, p *Pending, first bool) (PublishReport, error) {
	pc := d.store.cfg.Publish
	it, err := DecodeItem(p.Item)
	if err != nil {
		return PublishReport{}, fmt.Errorf("pending item: %w", err)
	}
	rep := PublishReport{Seq: it.Seq, IH: p.Pointer.IH, Size: p.Version.Size, Item: p.Item, Pointer: p.Pointer,
		version: p.Version}
	if err := pc.Seeder.Seed(ctx, p.Version); err != nil {
		return rep, fmt.Errorf("seed: %w", err)
	}
	res, err := pc.Putter.Put(ctx, it, p.CAS, p.HasCAS && first)
	rep.Put = res
	if err != nil || res.Stored == 0 {
		if res.Rejected[bep44.CodeCASMismatch]+res.Rejected[bep44.CodeSeqTooLow] > 0 {
			return rep, fmt.Errorf("put seq %d: %w (rejected %v)", it.Seq, ErrConflict, res.Rejected)
		}
		if err == nil {
			err = errors.New("no node stored the item")
		}
		return rep, fmt.Errorf("put seq %d: %w", it.Seq, err)
	}
	err = d.updateState(func(s *State) {
		s.Pending = nil
		if it.Seq > s.Sync.Seq {
			s.Sync.Seq, s.Sync.Item, s.Sync.Pointer = it.Seq, p.Item, p.Pointer
			s.Sync.Current, s.Sync.HasCurrent = p.Pointer.IH, true
		}
	})
	if err != nil {
		return rep, fmt.Errorf("record publish: %w", err)
	}
	return rep, nil
}

// PointerOf returns the part of a record the sync engine acts on.
func PointerOf(r record.Record) syncer.Pointer {
	p := syncer.Pointer{IH: r.IH, Size: r.Size, RO: r.ReadOnly, Next: r.NextKey}
	for _, h := range r.Prev {
		p.Prev = append(p.Prev, h)
	}
	return p
}
