package versions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/snapshot"
)

// DefaultKeep is how many versions a store keeps by default: the current
// one and the four a pointer's `prev` can name.
const DefaultKeep = 5

// Errors callers branch on.
var (
	ErrNotFound = errors.New("versions: no such version")
	ErrBadSeq   = errors.New("versions: seq must be positive")
	ErrSize     = errors.New("versions: file size does not match the info")
)

// Config configures a Store.
type Config struct {
	// Dir is the store's directory (required). It is created if missing.
	// It holds one file per version, named by the lower-case hex infohash,
	// and the manifest versions.json. Keep one store per database.
	Dir string
	// Keep is how many of the newest versions are always kept; older
	// ones are deleted once nobody holds them. 0 means DefaultKeep.
	Keep int
	// Clock stamps when a version was added. nil means clock.Real{}.
	Clock clock.Clock
	// Logger reports the clean-up done at Open. nil discards.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Keep == 0 {
		c.Keep = DefaultKeep
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
	if c.Dir == "" {
		return errors.New("versions: no directory")
	}
	if c.Keep < 1 {
		return fmt.Errorf("versions: keep %d, want at least 1", c.Keep)
	}
	return nil
}

// A Version is one complete, checked snapshot file in the store.
type Version struct {
	InfoHash metainfo.Hash
	Info     metainfo.Info // its info dictionary (kept beside the file)
	Seq      int64         // the pointer seq that named it; orders versions
	Size     int64
	Added    time.Time
	Path     string // the file: Dir/<infohash hex>
}

// A Store keeps the files of the last versions of one database, for
// seeding and for falling back. It is safe for concurrent use.
//
// Retention: the Keep versions with the highest Seq are always kept. An
// older version is deleted when a newer one is added, unless it is held
// (Acquire), in which case it is deleted when the last holder releases
// it. Holds are counted in memory, per process: a seeder holds the
// versions it seeds. A file deleted while another process has it open
// stays readable by that process (POSIX unlink semantics).
type Store struct {
	cfg  Config
	mu   sync.Mutex
	vers []Version // newest first
	held map[metainfo.Hash]int
}

// Open opens (creating if needed) the store in cfg.Dir. It removes what a
// crash can leave behind: temporary files, version files the manifest
// does not list (added or deleted mid-way), and manifest entries whose
// file is gone or has the wrong size.
func Open(cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	if err := snapshot.RemoveTemp(cfg.Dir); err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	listed, err := readManifest(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, held: make(map[metainfo.Hash]int)}
	known := make(map[string]bool)
	for _, v := range listed {
		v.Path = s.path(v.InfoHash)
		st, err := os.Stat(v.Path)
		if err == nil && st.Size() == v.Size {
			v.Info, err = readInfo(v.Path+infoSuffix, v.InfoHash)
		}
		if err != nil || st.Size() != v.Size {
			cfg.Logger.Warn("versions: dropping entry without its files", "infohash", v.InfoHash.HexString(), "err", err)
			continue
		}
		known[v.InfoHash.HexString()] = true
		s.vers = append(s.vers, v)
	}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("versions: %w", err)
	}
	for _, e := range ents {
		if name, ok := versionFile(e.Name()); ok && !known[name] {
			cfg.Logger.Warn("versions: removing unlisted file", "name", e.Name())
			if err := os.Remove(filepath.Join(cfg.Dir, e.Name())); err != nil {
				return nil, fmt.Errorf("versions: %w", err)
			}
		}
	}
	sortVersions(s.vers)
	if len(s.vers) != len(listed) {
		if err := writeManifest(cfg.Dir, s.vers); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Dir is the store's directory. Files made there (Assemble with this dir,
// snapshot.Create into a temporary name) can be added with a cheap rename.
func (s *Store) Dir() string { return s.cfg.Dir }

func (s *Store) path(ih metainfo.Hash) string {
	return filepath.Join(s.cfg.Dir, ih.HexString())
}

// Add moves the complete, checked file at src into the store as the
// version with info, published with seq, and deletes the versions that
// fall out of retention. src must be on the same file system as the store
// (best: in Dir()); it is renamed, not copied. If the version is already
// stored, src is removed and the stored version's Seq raised to seq if
// higher. Add checks src's size against info but does not re-hash or
// re-check it: that is the caller's job (snapshot.VerifyFile,
// snapshot.Check). It returns the version and the ones it deleted.
func (s *Store) Add(src string, info metainfo.Info, seq int64) (Version, []Version, error) {
	if seq <= 0 {
		return Version{}, nil, fmt.Errorf("%w: %d", ErrBadSeq, seq)
	}
	infoBytes, err := snapshot.InfoBytes(info)
	if err != nil {
		return Version{}, nil, fmt.Errorf("versions: add: %w", err)
	}
	ih := metainfo.HashBytes(infoBytes)
	st, err := os.Stat(src)
	if err != nil {
		return Version{}, nil, fmt.Errorf("versions: add: %w", err)
	}
	if st.Size() != info.Length {
		return Version{}, nil, fmt.Errorf("versions: add: %w: file is %d bytes, info says %d", ErrSize, st.Size(), info.Length)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.index(ih); i >= 0 {
		if same, _ := sameFile(src, s.vers[i].Path); same {
			return s.vers[i], nil, nil
		}
		if err := os.Remove(src); err != nil {
			return Version{}, nil, fmt.Errorf("versions: add: %w", err)
		}
		if seq > s.vers[i].Seq {
			s.vers[i].Seq = seq
			sortVersions(s.vers)
			if err := writeManifest(s.cfg.Dir, s.vers); err != nil {
				return Version{}, nil, err
			}
		}
		v := s.vers[s.index(ih)]
		removed, err := s.pruneLocked()
		return v, removed, err
	}
	v := Version{InfoHash: ih, Info: info, Seq: seq, Size: st.Size(),
		Added: s.cfg.Clock.Now().UTC().Truncate(time.Second), Path: s.path(ih)}
	// Files first, manifest second: a crash in between leaves unlisted
	// files, which Open removes.
	if err := writeFileAtomic(s.cfg.Dir, v.Path+infoSuffix, infoBytes); err != nil {
		return Version{}, nil, err
	}
	if err := syncFile(src); err != nil {
		return Version{}, nil, err
	}
	if err := os.Rename(src, v.Path); err != nil {
		return Version{}, nil, fmt.Errorf("versions: add: %w", err)
	}
	if err := syncDir(s.cfg.Dir); err != nil {
		return Version{}, nil, err
	}
	next := append(slices.Clone(s.vers), v)
	sortVersions(next)
	if err := writeManifest(s.cfg.Dir, next); err != nil {
		return Version{}, nil, err
	}
	s.vers = next
	removed, err := s.pruneLocked()
	return v, removed, err
}

// AddSnapshot snapshots the SQLite database at srcPath (snapshot.Create,
// into the store's directory), derives its info named name and adds it
// as seq: the owner's side of publishing a version.
func (s *Store) AddSnapshot(ctx context.Context, srcPath, name string, seq int64) (Version, []Version, error) {
	tmp, err := os.CreateTemp(s.cfg.Dir, tempPattern)
	if err != nil {
		return Version{}, nil, fmt.Errorf("versions: %w", err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // no-op once renamed into the store
	if err := snapshot.Create(ctx, srcPath, tmp.Name()); err != nil {
		return Version{}, nil, err
	}
	info, err := snapshot.NewInfo(ctx, tmp.Name(), name)
	if err != nil {
		return Version{}, nil, err
	}
	return s.Add(tmp.Name(), info, seq)
}

// List returns the stored versions, newest (highest Seq) first.
func (s *Store) List() []Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.vers)
}

// Get returns the stored version ih.
func (s *Store) Get(ih metainfo.Hash) (Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.index(ih); i >= 0 {
		return s.vers[i], nil
	}
	return Version{}, fmt.Errorf("%w: %s", ErrNotFound, ih.HexString())
}

// Acquire holds version ih so it is not deleted while in use (seeded,
// read). Call release exactly once when done; extra calls do nothing.
// Releasing the last hold on a version that fell out of retention deletes
// it.
func (s *Store) Acquire(ih metainfo.Hash) (release func() error, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index(ih) < 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ih.HexString())
	}
	s.held[ih]++
	var once sync.Once
	return func() (err error) {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.held[ih]--; s.held[ih] == 0 {
				delete(s.held, ih)
			}
			_, err = s.pruneLocked()
		})
		return err
	}, nil
}

func (s *Store) index(ih metainfo.Hash) int {
	return slices.IndexFunc(s.vers, func(v Version) bool { return v.InfoHash == ih })
}

// pruneLocked deletes the versions beyond Keep that nobody holds: the
// manifest first, then the files (a crash in between leaves unlisted
// files, which Open removes).
func (s *Store) pruneLocked() ([]Version, error) {
	var keep, drop []Version
	for i, v := range s.vers {
		if i < s.cfg.Keep || s.held[v.InfoHash] > 0 {
			keep = append(keep, v)
		} else {
			drop = append(drop, v)
		}
	}
	if len(drop) == 0 {
		return nil, nil
	}
	if err := writeManifest(s.cfg.Dir, keep); err != nil {
		return nil, err
	}
	s.vers = keep
	for _, v := range drop {
		for _, p := range []string{v.Path, v.Path + infoSuffix} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return drop, fmt.Errorf("versions: delete %s: %w", v.InfoHash.HexString(), err)
			}
		}
	}
	return drop, nil
}

// sortVersions orders newest first: higher Seq, then later Added.
func sortVersions(vs []Version) {
	slices.SortStableFunc(vs, func(a, b Version) int {
		return cmp.Or(cmp.Compare(b.Seq, a.Seq), b.Added.Compare(a.Added))
	})
}

// sameFile reports whether a and b name the same file.
func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}
