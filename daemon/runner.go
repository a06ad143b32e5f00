package daemon

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/clock"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/syncer"
)

// ErrNoPointer is wrapped by Pointers.Get when no node holds the pointer
// (with a seq at least the one asked for). It is db's sentinel.
var ErrNoPointer = db.ErrNoPointer

// ErrBadVersion is wrapped by Transfers.Fetch when the version itself is not
// acceptable (not a snapshot torrent, not a sound SQLite file): an infohash
// names fixed bytes, so it is refused for good.
var ErrBadVersion = errors.New("daemon: invalid version")

// Pointers reads and writes database pointers in the DHT.
type Pointers interface {
	// Get returns the newest verified item of addr with seq >= minSeq and
	// how many of the closest nodes hold it. When nodes hold exactly minSeq
	// and nothing newer, the item has Seq == minSeq and may carry no V (the
	// caller holds it). It wraps ErrNoPointer when no node holds seq >=
	// minSeq; any other error is a failed poll.
	Get(ctx context.Context, addr record.Address, minSeq int64) (it bep44.Item, found int, err error)
	// Put is db.Putter's: it stores a signed item (cas when hasCAS) and
	// says how many nodes stored it; err is non-nil when none did.
	Put(ctx context.Context, it bep44.Item, cas int64, hasCAS bool) (db.PutResult, error)
}

// Transfers moves versions of a database between this node and its peers.
type Transfers interface {
	// Fetch downloads version ih of d, reusing the pieces of version base
	// when hasBase (delta), and returns the path of the complete file,
	// checked as SQLite. It blocks until done, failed, or ctx is done. An
	// error wrapping ErrBadVersion refuses the version for good; any other
	// is retried. progress, when not nil, receives reports while it runs
	// (from the fetching goroutine; it must return quickly).
	Fetch(ctx context.Context, d *db.DB, ih, base syncer.Hash, hasBase bool, progress func(FetchProgress)) (string, error)
	// Install makes the fetched file at path the live copy of d (check,
	// atomic swap), keeps it among d's versions as published with seq, and
	// seeds it. On error the live copy is unchanged.
	Install(ctx context.Context, d *db.DB, ih syncer.Hash, path string, seq int64) error
	// Resume seeds the versions d holds, after a start.
	Resume(ctx context.Context, d *db.DB) error
}

// Defaults of RunnerConfig.
const (
	DefaultPollTimeout = 30 * time.Second
	DefaultPutTimeout  = 30 * time.Second
)

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Store is the data directory. Required.
	Store *db.Store
	// Pointers and Transfers reach the network. Required.
	Pointers  Pointers
	Transfers Transfers
	// Sync tunes every database's Follower. Its Rand must be nil (each
	// loop seeds its own): a *rand.Rand is not safe for concurrent use.
	Sync syncer.Config
	// Key returns the private key of a database this node owns, for the
	// automatic publish after writes. nil: no automatic publish.
	Key func(d *db.DB) (ed25519.PrivateKey, error)
	// Debounce is the automatic publish rule (copied per database).
	Debounce db.Debounce
	// PollTimeout and PutTimeout bound one DHT get and one put.
	PollTimeout, PutTimeout time.Duration
	// Metrics counts what the loops do. nil: a private set.
	Metrics *Metrics
	// Clock and Logger: nil means clock.Real{} and discard.
	Clock  clock.Clock
	Logger *slog.Logger
}

func (c RunnerConfig) withDefaults() RunnerConfig {
	if c.PollTimeout == 0 {
		c.PollTimeout = DefaultPollTimeout
	}
	if c.PutTimeout == 0 {
		c.PutTimeout = DefaultPutTimeout
	}
	if c.Metrics == nil {
		c.Metrics = &Metrics{}
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c RunnerConfig) validate() error {
	switch {
	case c.Store == nil || c.Pointers == nil || c.Transfers == nil:
		return errors.New("daemon: runner needs a store, pointers and transfers")
	case c.Sync.Rand != nil:
		return errors.New("daemon: runner sync config must not share a Rand")
	case c.PollTimeout < 0 || c.PutTimeout < 0:
		return errors.New("daemon: negative timeout")
	}
	return c.Debounce.Validate()
}

// Runner runs one sync loop per database. It is safe for concurrent use.
type Runner struct {
	cfg    RunnerConfig
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	loops  map[record.Address]*loop
	wg     sync.WaitGroup
}

// NewRunner returns a Runner; Start launches its loops.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{cfg: cfg, ctx: ctx, cancel: cancel, loops: map[record.Address]*loop{}}, nil
}

// Start launches a loop for every database in the store.
func (r *Runner) Start() error {
	addrs, err := r.cfg.Store.List()
	if err != nil {
		return err
	}
	for _, a := range addrs {
		if err := r.Add(a); err != nil {
			return err
		}
	}
	return nil
}

// Add launches the loop of the database at a (already in the store).
// Adding a database that runs already does nothing.
func (r *Runner) Add(a record.Address) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx.Err() != nil {
		return errors.New("daemon: runner closed")
	}
	if r.loops[a] != nil {
		return nil
	}
	d, err := r.cfg.Store.DB(a)
	if err != nil {
		return err
	}
	l, err := newLoop(r, d)
	if err != nil {
		return err
	}
	r.loops[a] = l
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		l.run()
	}()
	return nil
}

// Remove stops the loop of a and waits for it.
func (r *Runner) Remove(a record.Address) {
	r.mu.Lock()
	l := r.loops[a]
	delete(r.loops, a)
	r.mu.Unlock()
	if l != nil {
		l.stop()
	}
}

// Close stops every loop and waits for them.
func (r *Runner) Close() error {
	r.cancel()
	r.wg.Wait()
	return nil
}

func (r *Runner) loop(a record.Address) (*loop, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.loops[a]
	if l == nil {
		return nil, fmt.Errorf("%w: %s is not running", db.ErrNotFound, a)
	}
	return l, nil
}

// Wrote tells the loop of a that its working copy changed, for the
// automatic publish.
func (r *Runner) Wrote(a record.Address) {
	if l, err := r.loop(a); err == nil {
		l.do(func() {
			l.deb.Wrote(r.cfg.Clock.Now())
			l.refreshPending()
		})
	}
}

// Publish publishes a now with key, inside its loop so that the result
// feeds the keep-alive at once.
func (r *Runner) Publish(ctx context.Context, a record.Address, key ed25519.PrivateKey) (db.PublishReport, error) {
	l, err := r.loop(a)
	if err != nil {
		return db.PublishReport{}, err
	}
	type result struct {
		rep db.PublishReport
		err error
	}
	ch := make(chan result, 1)
	if !l.do(func() {
		rep, err := l.publish(ctx, key)
		ch <- result{rep, err}
	}) {
		return db.PublishReport{}, errors.New("daemon: runner closed")
	}
	select {
	case res := <-ch:
		return res.rep, res.err
	case <-ctx.Done():
		return db.PublishReport{}, ctx.Err()
	}
}

// Metrics returns the counters of the runner's loops.
func (r *Runner) Metrics() *Metrics { return r.cfg.Metrics }

// Status returns the sync status of a.
func (r *Runner) Status(a record.Address) (Status, error) {
	l, err := r.loop(a)
	if err != nil {
		return Status{}, err
	}
	return l.statusCopy(), nil
}

// Statuses returns the status of every running database.
func (r *Runner) Statuses() []Status {
	r.mu.Lock()
	ls := make([]*loop, 0, len(r.loops))
	for _, l := range r.loops {
		ls = append(ls, l)
	}
	r.mu.Unlock()
	out := make([]Status, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.statusCopy())
	}
	return out
}
