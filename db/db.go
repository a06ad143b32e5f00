package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"zombiezen.com/go/sqlite"

	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/syncer"
)

// DB is one database in a Store. It is safe for concurrent use.
type DB struct {
	store *Store
	addr  record.Address
	dir   string

	mu sync.Mutex // guards st
	st State

	wmu   sync.Mutex       // serialises writes on wconn
	wconn *sqlite.Conn     // the owner's write connection, opened lazily
	j     *journal.Journal // the owner's write journal (Config.Journal), opened with wconn

	pubmu sync.Mutex // one Publish at a time
}

// Address returns the database's address.
func (d *DB) Address() record.Address { return d.addr }

// Role returns whether this node owns or follows the database.
func (d *DB) Role() Role {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.Role
}

// State returns a copy of the durable state.
func (d *DB) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	if st.Pending != nil {
		p := *st.Pending
		st.Pending = &p
	}
	return st
}

// LivePath is the SQLite file queries read: the owner's working copy or the
// follower's installed version.
func (d *DB) LivePath() string { return filepath.Join(d.dir, liveFile) }

// VersionsDir is where the snapshot files of this database are kept.
func (d *DB) VersionsDir() string { return filepath.Join(d.dir, versionsDir) }

// SaveSync persists the sync engine's state (on a syncer.Save action). A
// state with a lower seq than the one stored is stale (a Publish ran
// meanwhile) and is ignored: the held pointer never goes back. For an owned
// database the local version at the same seq is kept as Publish and CatchUp
// recorded it.
func (d *DB) SaveSync(p syncer.Persisted) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	if p.Seq < st.Sync.Seq {
		return nil
	}
	if st.Role == RoleOwner && p.Seq == st.Sync.Seq {
		// The owner's local version is what Publish and CatchUp made.
		p.Current, p.HasCurrent = st.Sync.Current, st.Sync.HasCurrent
	}
	st.Sync = p
	if err := writeState(d.dir, st); err != nil {
		return fmt.Errorf("save sync state of %s: %w", d.addr, err)
	}
	d.st = st
	return nil
}

// SetKeyFile records where the owner's key file is (an absolute path), so a
// daemon on this data directory can load the key to publish automatically.
func (d *DB) SetKeyFile(path string) error {
	if d.Role() != RoleOwner {
		return fmt.Errorf("set key file of %s: %w", d.addr, ErrNotOwner)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("set key file of %s: %w", d.addr, err)
	}
	if err := d.updateState(func(s *State) { s.KeyFile = abs }); err != nil {
		return fmt.Errorf("set key file of %s: %w", d.addr, err)
	}
	return nil
}

// updateState applies f to a copy of the state and persists it.
func (d *DB) updateState(f func(*State)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	f(&st)
	if err := writeState(d.dir, st); err != nil {
		return err
	}
	d.st = st
	return nil
}

func (d *DB) close() error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.closeWriterLocked()
}

// closeWriterLocked closes the write connection and the journal (d.wmu
// held); the next writer() reopens both.
func (d *DB) closeWriterLocked() error {
	var errs []error
	if d.wconn != nil {
		errs = append(errs, d.wconn.Close())
		d.wconn = nil
	}
	if d.j != nil {
		errs = append(errs, d.j.Close())
		d.j = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s: %w", d.addr, err)
	}
	return nil
}

// writer returns the owner's write connection (d.wmu held), opening it and,
// with Config.Journal, the journal, whose pending writes a crash kept out of
// the live file are applied to it first (repair).
func (d *DB) writer() (*sqlite.Conn, error) {
	if d.Role() != RoleOwner {
		return nil, fmt.Errorf("%w: %s is followed, not owned", ErrNotOwner, d.addr)
	}
	if d.wconn != nil {
		return d.wconn, nil
	}
	c, err := openWriter(d.LivePath())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d.addr, err)
	}
	cfg := d.store.cfg
	if cfg.Journal {
		j, err := journal.Open(journal.Config{Path: filepath.Join(d.dir, journalFile), Clock: cfg.Clock,
			Policy: cfg.JournalPolicy, Logger: cfg.Logger})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("open journal of %s: %w", d.addr, err)
		}
		rep, err := j.Rebase(context.Background(), c)
		if err != nil {
			j.Close()
			c.Close()
			return nil, fmt.Errorf("repair %s from its journal: %w", d.addr, err)
		}
		if len(rep.Applied) > 0 {
			cfg.Logger.Info("repaired from the journal", "db", d.addr.String(), "applied", len(rep.Applied))
		}
		d.j = j
	}
	d.wconn = c
	return c, nil
}

// Journal returns the write journal of an owned database, nil when
// Config.Journal is off or the database was not written yet.
func (d *DB) Journal() *journal.Journal {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if d.Role() == RoleOwner && d.store.cfg.Journal {
		if _, err := d.writer(); err != nil {
			return nil
		}
	}
	return d.j
}

var errClosed = errors.New("db: closed")
