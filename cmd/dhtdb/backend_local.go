package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"

	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/record"
)

// localBackend works on the data directory itself when no daemon runs
// there. Local work (create, exec, query, status, unfollow) needs no
// network; publish and follow start a daemon in this process for the time
// of the command.
type localBackend struct {
	e     *env
	dir   string
	net   netFlags
	store *db.Store
}

func openLocal(e *env, dir string, nf netFlags) (*localBackend, error) {
	// The journal is on as in the daemon: a write made while no daemon runs
	// must be rebased like any other when another writer's version wins.
	store, err := db.Open(db.Config{Dir: dir, Journal: true})
	if err != nil {
		return nil, err
	}
	return &localBackend{e: e, dir: dir, net: nf, store: store}, nil
}

func (l *localBackend) Close() error {
	if l.store == nil {
		return nil
	}
	err := l.store.Close()
	l.store = nil
	return err
}

// resolve finds a database by address, magnet or local name.
func (l *localBackend) resolve(ref string) (*db.DB, error) {
	if isAddress(ref) {
		a, err := record.ParseAddress(ref)
		if err != nil {
			return nil, err
		}
		return l.store.DB(a)
	}
	return l.store.Find(ref)
}

func (l *localBackend) Create(ctx context.Context, name, keyFile string) (daemon.Status, error) {
	key, err := l.e.loadKey(keyFile)
	if err != nil {
		return daemon.Status{}, err
	}
	addr, err := l.store.Create(name, key)
	if err != nil {
		return daemon.Status{}, err
	}
	d, err := l.store.DB(addr)
	if err != nil {
		return daemon.Status{}, err
	}
	if err := d.SetKeyFile(keyFile); err != nil {
		return daemon.Status{}, err
	}
	return daemon.StatusOf(d), nil
}

func (l *localBackend) Unfollow(ctx context.Context, ref string) error {
	d, err := l.resolve(ref)
	if err != nil {
		return err
	}
	if d.Role() == db.RoleOwner {
		return errors.New("this node owns the database; it cannot be unfollowed")
	}
	return l.store.Unfollow(d.Address())
}

func (l *localBackend) Status(ctx context.Context, ref string) (daemon.Status, error) {
	d, err := l.resolve(ref)
	if err != nil {
		return daemon.Status{}, err
	}
	return daemon.StatusOf(d), nil
}

func (l *localBackend) List(ctx context.Context) ([]daemon.Status, error) {
	addrs, err := l.store.List()
	if err != nil {
		return nil, err
	}
	out := make([]daemon.Status, 0, len(addrs))
	for _, a := range addrs {
		d, err := l.store.DB(a)
		if err != nil {
			return nil, err
		}
		out = append(out, daemon.StatusOf(d))
	}
	return out, nil
}

func (l *localBackend) Exec(ctx context.Context, ref, sql string, args []any) (db.ExecResult, error) {
	d, err := l.resolve(ref)
	if err != nil {
		return db.ExecResult{}, err
	}
	return d.Exec(ctx, sql, args...)
}

func (l *localBackend) Query(ctx context.Context, ref, sql string, args []any) (db.Rows, error) {
	d, err := l.resolve(ref)
	if err != nil {
		return db.Rows{}, err
	}
	return d.Query(ctx, sql, args...)
}

// Publish publishes through a daemon started for the command. The version
// is seeded only while a daemon runs on the data directory.
func (l *localBackend) Publish(ctx context.Context, ref string) (db.PublishReport, error) {
	d, err := l.resolve(ref)
	if err != nil {
		return db.PublishReport{}, err
	}
	st := d.State()
	if st.Role != db.RoleOwner {
		return db.PublishReport{}, fmt.Errorf("%w: %s", db.ErrNotOwner, d.Address())
	}
	if st.KeyFile == "" {
		return db.PublishReport{}, fmt.Errorf("no key file recorded for %s", d.Address())
	}
	key, err := l.e.loadKey(st.KeyFile)
	if err != nil {
		return db.PublishReport{}, err
	}
	addr := d.Address()
	var rep db.PublishReport
	err = l.withDaemon(ctx, func(dm *daemon.Daemon) error {
		rep, err = dm.Runner().Publish(ctx, addr, key)
		return err
	})
	if err == nil {
		fmt.Fprintf(l.e.stderr, "note: no daemon runs on %s; the new version is seeded only while one does (dhtdb serve --data %s)\n", l.dir, l.dir)
	}
	return rep, err
}

// Follow records the database and syncs it once through a daemon started
// for the command: it waits until the newest version is installed or ctx
// ends (then the status says how far it got), calling watch (if set) with
// each status seen.
func (l *localBackend) Follow(ctx context.Context, ref string, watch func(daemon.Status)) (daemon.Status, error) {
	a, err := record.ParseAddress(ref)
	if err != nil {
		return daemon.Status{}, err
	}
	var st daemon.Status
	err = l.withDaemon(ctx, func(dm *daemon.Daemon) error {
		if _, err := dm.Store().Follow(a); err != nil {
			return err
		}
		if err := dm.Runner().Add(a); err != nil {
			return err
		}
		st, err = waitSynced(ctx, func(context.Context) (daemon.Status, error) { return dm.Runner().Status(a) }, watch)
		if err != nil && ctx.Err() != nil {
			fmt.Fprintf(l.e.stderr, "note: %s is followed but not synced yet (%v); dhtdb serve keeps it in sync\n", a, ctx.Err())
			return nil
		}
		return err
	})
	return st, err
}

// withDaemon runs f with a daemon on the data directory, joined to the DHT.
// The backend's own store is closed first: one process, one store.
func (l *localBackend) withDaemon(ctx context.Context, f func(*daemon.Daemon) error) error {
	if err := l.Close(); err != nil {
		return err
	}
	bootstrap, err := l.net.bootstrapList()
	if err != nil {
		return err
	}
	// The torrent client listens on the DHT node's host: loopback when
	// the network is.
	listen := l.net.listenAddr(bootstrap)
	host := "0.0.0.0"
	if h, _, err := net.SplitHostPort(listen); err == nil {
		host = h
	}
	dm, err := daemon.Start(ctx, daemon.Config{
		DataDir: l.dir, HTTPAddr: "127.0.0.1:0", DHTAddr: listen, TorrentAddr: net.JoinHostPort(host, "0"),
		Bootstrap: bootstrap, Logger: l.net.logger(l.e),
		Passphrase: func() (string, error) { return l.e.passphrase("passphrase: ", false) },
	})
	if err != nil {
		return err
	}
	defer dm.Close()
	if len(bootstrap) > 0 {
		if err := dm.DHT().Bootstrap(ctx); err != nil {
			return fmt.Errorf("join the DHT: %w", err)
		}
	}
	return f(dm)
}

// absPath makes a key file path absolute, so a daemon started elsewhere
// finds it.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
