package db

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/snapshot"
)

// File names inside a database directory.
const (
	liveFile    = "live.sqlite"
	journalFile = "journal.sqlite"
	stateFile   = "state.json"
	versionsDir = "versions"
)

// Sentinel errors callers branch on.
var (
	ErrExists    = errors.New("db: database already exists")
	ErrNotFound  = errors.New("db: no such database")
	ErrNotOwner  = errors.New("db: not the owner of this database")
	ErrNoVersion = errors.New("db: no local version yet")
)

// Config configures a Store.
type Config struct {
	// Dir is the data directory; created if missing. Required.
	Dir string
	// Publish holds what Publish needs to reach the network; zero fields
	// make Publish fail with ErrOffline (local commands work without).
	Publish PublishConfig
	// Journal records every Exec of an owned database in a durable journal
	// of changesets (package journal: several writers, nothing
	// lost). Tables then need a PRIMARY KEY. Off: Exec writes directly.
	Journal bool
	// JournalPolicy is the same-row conflict rule of the journal's rebase.
	// "": journal.DefaultPolicy.
	JournalPolicy journal.Policy
	// Clock is the time source (record timestamps). nil: clock.Real{}.
	Clock clock.Clock
	// Logger receives debug logs. nil: discarded.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
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
		return errors.New("db: config without a data directory")
	}
	return nil
}

// Store is a data directory. It is safe for concurrent use.
type Store struct {
	cfg Config
	mu  sync.Mutex
	dbs map[record.Address]*DB
}

// Open opens (creating if needed) the data directory of cfg.
func Open(cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "dbs"), 0o700); err != nil {
		return nil, fmt.Errorf("open data directory: %w", err)
	}
	return &Store{cfg: cfg, dbs: map[record.Address]*DB{}}, nil
}

// Close closes every open database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for a, d := range s.dbs {
		errs = append(errs, d.close())
		delete(s.dbs, a)
	}
	return errors.Join(errs...)
}

// dirOf is the directory of the database at a.
func (s *Store) dirOf(a record.Address) string {
	return filepath.Join(s.cfg.Dir, "dbs", hex.EncodeToString(a.PublicKey[:]), hex.EncodeToString([]byte(a.Name)))
}

// Create makes a new database named name owned by key: an empty SQLite
// working copy and its state. It returns the database's address.
func (s *Store) Create(name string, key ed25519.PrivateKey) (record.Address, error) {
	if len(key) != ed25519.PrivateKeySize {
		return record.Address{}, fmt.Errorf("create %q: private key of %d bytes", name, len(key))
	}
	addr, err := record.NewAddress(key.Public().(ed25519.PublicKey), name)
	if err != nil {
		return record.Address{}, fmt.Errorf("create: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.newDB(addr, RoleOwner)
	if err != nil {
		return record.Address{}, err
	}
	d.wmu.Lock()
	_, err = d.writer()
	d.wmu.Unlock()
	if err != nil {
		d.close()
		_ = os.RemoveAll(d.dir)
		return record.Address{}, fmt.Errorf("create %s: %w", addr, err)
	}
	s.dbs[addr] = d
	return addr, nil
}

// Join makes this node another writer of the database at a, whose key it
// holds (`dhtdb follow DB --key FILE`): the database is owned here — writes
// and publishes are allowed — and its working copy starts empty until
// DB.CatchUp brings in the published version and rebases local writes onto
// it. It needs Config.Journal, without which two writers lose writes.
func (s *Store) Join(a record.Address, key ed25519.PrivateKey) (*DB, error) {
	if !s.cfg.Journal {
		return nil, errors.New("db: joining as a writer needs the write journal (Config.Journal)")
	}
	if len(key) != ed25519.PrivateKeySize || [32]byte(key.Public().(ed25519.PublicKey)) != a.PublicKey {
		return nil, fmt.Errorf("join %s: %w: the key does not match the address", a, ErrNotOwner)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.newDB(a, RoleOwner)
	if err != nil {
		return nil, err
	}
	d.wmu.Lock()
	_, err = d.writer()
	d.wmu.Unlock()
	if err != nil {
		d.close()
		_ = os.RemoveAll(d.dir)
		return nil, fmt.Errorf("join %s: %w", a, err)
	}
	s.dbs[a] = d
	return d, nil
}

// Follow starts keeping a local copy of the database at a. Following a
// database already here returns it unchanged.
func (s *Store) Follow(a record.Address) (*DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, err := s.load(a); err == nil {
		return d, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	d, err := s.newDB(a, RoleFollower)
	if err != nil {
		return nil, err
	}
	s.dbs[a] = d
	return d, nil
}

// newDB creates the directory and initial state of a database.
func (s *Store) newDB(a record.Address, role Role) (*DB, error) {
	dir := s.dirOf(a)
	if _, err := os.Stat(dir); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, a)
	}
	if err := os.MkdirAll(filepath.Join(dir, versionsDir), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", a, err)
	}
	st := State{Format: stateFormat, Role: role}
	if err := writeState(dir, st); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("create %s: %w", a, err)
	}
	return &DB{store: s, addr: a, dir: dir, st: st}, nil
}

// DB returns the database at a, loading it from the data directory.
func (s *Store) DB(a record.Address) (*DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(a)
}

func (s *Store) load(a record.Address) (*DB, error) {
	if d := s.dbs[a]; d != nil {
		return d, nil
	}
	dir := s.dirOf(a)
	st, err := readState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, a)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", a, err)
	}
	d := &DB{store: s, addr: a, dir: dir, st: st}
	if st.Role == RoleOwner && s.cfg.Journal {
		// Repair now: a write a crash kept out of live.sqlite is in the
		// journal, and queries must see every acknowledged write.
		d.wmu.Lock()
		_, err := d.writer()
		d.wmu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", a, err)
		}
	}
	s.dbs[a] = d
	return d, nil
}

// Find returns the database whose name is name, if exactly one has it.
func (s *Store) Find(name string) (*DB, error) {
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var match []record.Address
	for _, a := range all {
		if a.Name == name {
			match = append(match, a)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	case 1:
		return s.DB(match[0])
	}
	return nil, fmt.Errorf("db: %d databases are named %q: use the full address", len(match), name)
}

// Unfollow stops following a and deletes its local copy. The databases a
// node owns cannot be unfollowed.
func (s *Store) Unfollow(a record.Address) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.load(a)
	if err != nil {
		return err
	}
	if d.Role() == RoleOwner {
		return fmt.Errorf("unfollow %s: %w", a, errors.New("db: this node owns it"))
	}
	delete(s.dbs, a)
	if err := d.close(); err != nil {
		return err
	}
	if err := os.RemoveAll(d.dir); err != nil {
		return fmt.Errorf("unfollow %s: %w", a, err)
	}
	return nil
}

// RemoveTemp removes the temporary files a crash left in the databases'
// directories (a copy being checked and swapped in, a catch-up copy). Only
// the process that owns the data directory (the daemon, at start) may call
// it: the temporary files of a running operation would go too.
func (s *Store) RemoveTemp() error {
	addrs, err := s.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range addrs {
		errs = append(errs, snapshot.RemoveTemp(s.dirOf(a)))
	}
	return errors.Join(errs...)
}

// List returns the addresses of every database in the data directory,
// ordered by key and name.
func (s *Store) List() ([]record.Address, error) {
	root := filepath.Join(s.cfg.Dir, "dbs")
	keys, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	var out []record.Address
	for _, k := range keys {
		pub, err := hex.DecodeString(k.Name())
		if err != nil || len(pub) != 32 {
			continue // not ours
		}
		names, err := os.ReadDir(filepath.Join(root, k.Name()))
		if err != nil {
			return nil, fmt.Errorf("list databases: %w", err)
		}
		for _, n := range names {
			name, err := hex.DecodeString(n.Name())
			if err != nil {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, k.Name(), n.Name(), stateFile)); err != nil {
				continue // half-created or half-removed
			}
			a, err := record.NewAddress(pub, string(name))
			if err == nil {
				out = append(out, a)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := bytes.Compare(out[i].PublicKey[:], out[j].PublicKey[:]); c != 0 {
			return c < 0
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
