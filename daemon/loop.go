package daemon

import (
	"bytes"
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

// loop is the goroutine driving one database's Follower. Every field but
// the channels and the status is owned by the loop goroutine.
type loop struct {
	r     *Runner
	d     *db.DB
	addr  record.Address
	f     *syncer.Follower
	owner bool
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	reqs   chan func() // closures run in the loop goroutine
	wake   chan struct{}
	ops    sync.WaitGroup // goroutines of async operations

	fetches map[syncer.Hash]context.CancelFunc // fetches running
	paths   map[syncer.Hash]string             // fetched files awaiting install
	deb     db.Debounce

	// multi: an owned database with a write journal, whose key other
	// writers may hold too: versions they publish are caught up with
	// (db.CatchUp) instead of installed.
	multi    bool
	catching bool // a CatchUp runs
	behind   bool // the last CatchUp failed: retry after the next poll

	smu    sync.Mutex
	status Status
}

func newLoop(r *Runner, d *db.DB) (*loop, error) {
	st := d.State()
	cfg := r.cfg.Sync
	owner := st.Role == db.RoleOwner
	cfg.KeepAliveOnly = owner
	f, err := syncer.New(cfg, st.Sync)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(r.ctx)
	l := &loop{
		r: r, d: d, addr: d.Address(), f: f, owner: owner,
		log: r.cfg.Logger.With("db", d.Address().String()),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		reqs: make(chan func()), wake: make(chan struct{}, 1),
		fetches: map[syncer.Hash]context.CancelFunc{}, paths: map[syncer.Hash]string{},
		deb: r.cfg.Debounce,
	}
	l.multi = owner && d.Journal() != nil
	l.status = newStatus(d)
	return l, nil
}

func (l *loop) stop() {
	l.cancel()
	<-l.done
}

// do runs fn in the loop goroutine; false if the loop has stopped.
func (l *loop) do(fn func()) bool {
	select {
	case l.reqs <- fn:
		return true
	case <-l.ctx.Done():
		return false
	}
}

func (l *loop) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *loop) run() {
	defer close(l.done)
	// On the way out, wait for the operations still running (they see the
	// cancelled context), so that nothing touches the data after a stop.
	defer l.ops.Wait()
	clk := l.r.cfg.Clock
	l.async(func() func() {
		if err := l.r.cfg.Transfers.Resume(l.ctx, l.d); err != nil && l.ctx.Err() == nil {
			l.log.Warn("resume seeding", "err", err)
		}
		return nil
	})
	if l.multi {
		l.catchUp() // a joined writer starts empty; a restarted one may be behind
	}
	if l.owner && l.d.State().Pending != nil {
		l.deb.Wrote(clk.Now()) // a publish a restart interrupted is finished soon
	}
	for {
		now := clk.Now()
		l.apply(l.f.Tick(now))
		if l.owner && l.r.cfg.Key != nil && l.deb.IsDue(now) {
			l.autoPublish()
		}
		next, ok := l.f.NextWake()
		if at, due := l.deb.Due(); due && l.owner && l.r.cfg.Key != nil && (!ok || at.Before(next)) {
			next, ok = at, true
		}
		var timer clock.Timer
		if ok {
			timer = clk.AfterFunc(max(next.Sub(clk.Now()), 0), l.poke)
		}
		select {
		case fn := <-l.reqs:
			fn()
		case <-l.wake:
		case <-l.ctx.Done():
			for _, cancel := range l.fetches {
				cancel()
			}
			if timer != nil {
				timer.Stop()
			}
			return
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// step feeds ev to the Follower and carries out the actions.
func (l *loop) step(ev syncer.Event) { l.apply(l.f.Step(l.r.cfg.Clock.Now(), ev)) }

// async runs op in its own goroutine and its result, a closure, in the loop.
func (l *loop) async(op func() func()) {
	l.ops.Add(1)
	go func() {
		defer l.ops.Done()
		if then := op(); then != nil {
			l.do(then)
		}
	}()
}

func (l *loop) apply(acts []syncer.Action) {
	m := l.r.cfg.Metrics
	for _, a := range acts {
		switch a := a.(type) {
		case syncer.Save:
			// With several writers the held pointer is what the working
			// copy builds on: db.Publish and db.CatchUp keep it.
			if !l.multi {
				if err := l.d.SaveSync(a.State); err != nil {
					l.log.Error("save sync state", "err", err)
				}
			}
			l.setStatus(func(s *Status) { s.fromState(a.State) })
		case syncer.Poll:
			m.Polls.Add(1)
			l.setStatus(func(s *Status) { s.LastPoll = l.r.cfg.Clock.Now() })
			l.async(func() func() { return l.poll(a.MinSeq) })
		case syncer.Fetch:
			ctx, cancel := context.WithCancel(l.ctx)
			if old := l.fetches[a.IH]; old != nil {
				old()
			}
			l.fetches[a.IH] = cancel
			m.Fetches.Add(1)
			l.async(func() func() { return l.fetch(ctx, a) })
		case syncer.Cancel:
			if cancel := l.fetches[a.IH]; cancel != nil {
				cancel()
				delete(l.fetches, a.IH)
			}
			delete(l.paths, a.IH)
		case syncer.Install:
			path, seq := l.paths[a.IH], l.seqOf(a.IH)
			l.async(func() func() { return l.install(a.IH, path, seq) })
		case syncer.Put:
			m.Puts.Add(1)
			l.async(func() func() { return l.put(a) })
		case syncer.Notice:
			l.notice(a)
		}
	}
	l.setStatus(func(s *Status) {
		s.Fetching = s.Fetching[:0]
		for ih := range l.fetches {
			s.Fetching = append(s.Fetching, ih.String())
		}
	})
}

// poll gets the pointer and returns the event to feed.
func (l *loop) poll(minSeq int64) func() {
	ctx, cancel := context.WithTimeout(l.ctx, l.r.cfg.PollTimeout)
	defer cancel()
	it, found, err := l.r.cfg.Pointers.Get(ctx, l.addr, minSeq)
	var ev syncer.Event
	switch {
	case errors.Is(err, ErrNoPointer):
		ev = syncer.PollNotFound{}
	case err != nil:
		ev = syncer.PollFailed{Err: err}
	default:
		ev = l.pollResult(it, found)
	}
	// split: the DHT's value at our seq is not the one we hold (two
	// writers raced to the same seq).
	held := l.d.State().Sync
	split := err == nil && held.Item != nil && it.Seq == held.Seq && len(it.V) > 0 && !sameValue(held.Item, it.V)
	return func() {
		l.setStatus(func(s *Status) { s.LastFound = found; s.LastPollErr = errString(err) })
		before := l.f.State().Seq
		l.step(ev)
		if l.multi && (l.f.State().Seq > before || l.behind || split) {
			l.catchUp() // a version we did not publish, or a retry
		}
	}
}

// catchUp runs db.CatchUp in the background: another writer's version is
// fetched and our unpublished writes are rebased onto it; if some remain
// unpublished, a publish is scheduled.
func (l *loop) catchUp() {
	if l.catching {
		return
	}
	l.catching = true
	l.async(func() func() {
		rep, err := l.d.CatchUp(l.ctx)
		return func() {
			l.catching = false
			l.behind = err != nil
			if err != nil {
				l.log.Warn("catch up", "err", err)
			}
			st := l.d.State()
			l.setStatus(func(s *Status) {
				s.fromState(st.Sync)
				if err != nil {
					s.PublishErr = err.Error()
				}
				if len(rep.Conflicts) > 0 {
					s.LastConflicts = rep.Conflicts
				}
			})
			// Counted now, not when CatchUp returned: a publish may have
			// run in between.
			if l.refreshPending() > 0 {
				l.deb.Wrote(l.r.cfg.Clock.Now())
			}
		}
	})
}

func (l *loop) pollResult(it bep44.Item, found int) syncer.Event {
	held := l.d.State().Sync
	if it.K != l.addr.PublicKey || !bytes.Equal(it.Salt, l.addr.Salt()) {
		return syncer.PollFailed{Err: errors.New("pointer for another key or name")}
	}
	if held.Item != nil && it.Seq == held.Seq && (len(it.V) == 0 || sameValue(held.Item, it.V)) {
		return syncer.PollResult{Seq: it.Seq, Pointer: held.Pointer, Item: held.Item, Found: found}
	}
	if len(it.V) == 0 {
		if it.Seq < held.Seq {
			// Only a claim of the poll's MinSeq, older than ours since a
			// local publish: no signed item, so no replay; ours is put back.
			return syncer.PollResult{Seq: it.Seq, Found: found}
		}
		return syncer.PollFailed{Err: fmt.Errorf("pointer seq %d without a value", it.Seq)}
	}
	if err := it.Verify(); err != nil {
		return syncer.PollFailed{Err: fmt.Errorf("pointer seq %d: %w", it.Seq, err)}
	}
	rec, err := record.Decode(it.V)
	if err != nil {
		return syncer.PollFailed{Err: fmt.Errorf("pointer seq %d: %w", it.Seq, err)}
	}
	return syncer.PollResult{Seq: it.Seq, Pointer: db.PointerOf(rec), Item: db.EncodeItem(it), Found: found}
}

func sameValue(held []byte, v []byte) bool {
	it, err := db.DecodeItem(held)
	return err == nil && bytes.Equal(it.V, v)
}

func (l *loop) fetch(ctx context.Context, a syncer.Fetch) func() {
	path, err := l.r.cfg.Transfers.Fetch(ctx, l.d, a.IH, a.Base, a.HasBase, func(p FetchProgress) {
		l.setStatus(func(s *Status) { s.Fetch = &p })
	})
	l.setStatus(func(s *Status) {
		if s.Fetch != nil && s.Fetch.IH == a.IH.String() {
			s.Fetch = nil
		}
	})
	if ctx.Err() != nil {
		return nil // cancelled: the Follower expects nothing
	}
	return func() {
		if l.fetches[a.IH] == nil {
			return // cancelled meanwhile
		}
		delete(l.fetches, a.IH)
		if err != nil {
			l.r.cfg.Metrics.FetchFailures.Add(1)
			if errors.Is(err, ErrBadVersion) {
				l.step(syncer.FetchInvalid{IH: a.IH, Err: err})
			} else {
				l.step(syncer.FetchFailed{IH: a.IH, Err: err})
			}
			return
		}
		l.paths[a.IH] = path
		l.step(syncer.FetchDone{IH: a.IH})
	}
}

func (l *loop) install(ih syncer.Hash, path string, seq int64) func() {
	var err error
	if path == "" {
		err = errors.New("no fetched file")
	} else {
		err = l.r.cfg.Transfers.Install(l.ctx, l.d, ih, path, seq)
	}
	if l.ctx.Err() != nil {
		return nil
	}
	return func() {
		delete(l.paths, ih)
		if err != nil {
			l.r.cfg.Metrics.InstallFailures.Add(1)
			l.step(syncer.InstallFailed{IH: ih, Err: err})
			return
		}
		l.r.cfg.Metrics.Installs.Add(1)
		l.step(syncer.InstallDone{IH: ih})
	}
}

// seqOf estimates the seq that published ih: the pointer's seq less ih's
// position in its history.
func (l *loop) seqOf(ih syncer.Hash) int64 {
	st := l.f.State()
	if ih == st.Pointer.IH {
		return st.Seq
	}
	for i, p := range st.Pointer.Prev {
		if p == ih {
			return max(st.Seq-int64(i+1), 1)
		}
	}
	return max(st.Seq, 1)
}

func (l *loop) put(a syncer.Put) func() {
	it, err := db.DecodeItem(a.Item)
	var res db.PutResult
	if err == nil {
		ctx, cancel := context.WithTimeout(l.ctx, l.r.cfg.PutTimeout)
		res, err = l.r.cfg.Pointers.Put(ctx, it, 0, false)
		cancel()
	}
	return func() {
		if err != nil {
			l.r.cfg.Metrics.PutFailures.Add(1)
		}
		l.r.cfg.Metrics.PutStored.Add(int64(res.Stored))
		l.setStatus(func(s *Status) {
			s.LastPut = l.r.cfg.Clock.Now()
			s.LastPutStored = res.Stored
			s.LastPutErr = errString(err)
		})
		l.step(syncer.PutDone{Seq: a.Seq, Stored: res.Stored, Err: err})
	}
}

func (l *loop) notice(n syncer.Notice) {
	m := l.r.cfg.Metrics
	attrs := []any{"kind", n.Kind.String(), "seq", n.Seq}
	if n.IH != (syncer.Hash{}) {
		attrs = append(attrs, "ih", n.IH.String())
	}
	if n.Err != nil {
		attrs = append(attrs, "err", n.Err)
	}
	l.setStatus(func(s *Status) { s.note(n) })
	switch n.Kind {
	case syncer.NoticeReplay:
		m.Replays.Add(1)
		l.log.Warn("refused an older pointer", attrs...)
	case syncer.NoticePollFailed:
		m.PollFailures.Add(1)
		l.log.Debug("poll failed", attrs...)
	case syncer.NoticeBadVersion, syncer.NoticeFetchFailed, syncer.NoticePutFailed:
		l.log.Warn("sync", attrs...)
	case syncer.NoticeMoved:
		l.log.Warn("database moved to a new key", append(attrs, "key", fmt.Sprintf("%x", n.Key))...)
		l.followMoved(n.Key)
	default:
		l.log.Info("sync", attrs...)
	}
}

// followMoved starts following the database under the owner's new key
// (PROTOCOL.md §3: readers follow `next`). The old one keeps running: its
// versions stay available.
func (l *loop) followMoved(key []byte) {
	if l.owner {
		return
	}
	a, err := record.NewAddress(key, l.addr.Name)
	if err != nil {
		l.log.Warn("moved to an invalid key", "err", err)
		return
	}
	l.async(func() func() {
		if _, err := l.r.cfg.Store.Follow(a); err != nil {
			l.log.Warn("follow the moved database", "to", a.String(), "err", err)
			return nil
		}
		if err := l.r.Add(a); err != nil && l.ctx.Err() == nil {
			l.log.Warn("follow the moved database", "to", a.String(), "err", err)
		}
		return nil
	})
}

// publish runs a Publish and feeds its result to the Follower.
func (l *loop) publish(ctx context.Context, key ed25519.PrivateKey) (db.PublishReport, error) {
	m := l.r.cfg.Metrics
	start := l.r.cfg.Clock.Now()
	l.deb.Started(start)
	rep, err := l.d.Publish(ctx, key)
	if err != nil {
		m.PublishFailures.Add(1)
		l.deb.Failed(start, l.r.cfg.Clock.Now())
		l.log.Warn("publish failed", "err", err)
		l.setStatus(func(s *Status) { s.PublishErr = err.Error() })
		return rep, err
	}
	l.setStatus(func(s *Status) {
		s.PublishErr = ""
		if len(rep.Conflicts) > 0 {
			s.LastConflicts = rep.Conflicts
		}
	})
	l.refreshPending()
	// A publish that only finished one a failure or crash left pending is
	// Unchanged but still put a new pointer (Retried).
	if (!rep.Unchanged || rep.Retried > 0) && rep.Item != nil {
		m.Publishes.Add(1)
		m.PutStored.Add(int64(rep.Put.Stored))
		l.log.Info("published", "seq", rep.Seq, "ih", rep.IH.String(), "stored", rep.Put.Stored, "retried", rep.Retried)
		l.step(syncer.Published{Seq: rep.Seq, Pointer: rep.Pointer, Item: rep.Item})
	}
	return rep, nil
}

func (l *loop) autoPublish() {
	key, err := l.r.cfg.Key(l.d)
	if err != nil {
		l.deb.Started(l.r.cfg.Clock.Now()) // nothing to retry without a key
		l.log.Warn("automatic publish: no key", "err", err)
		l.setStatus(func(s *Status) { s.PublishErr = err.Error() })
		return
	}
	ctx, cancel := context.WithTimeout(l.ctx, 2*time.Minute)
	defer cancel()
	_, _ = l.publish(ctx, key)
}

// refreshPending updates the status's count of journaled writes not yet
// published, and returns it.
func (l *loop) refreshPending() int {
	j := l.d.Journal()
	if j == nil {
		return 0
	}
	p, err := j.Pending()
	if err != nil {
		return 0
	}
	l.setStatus(func(s *Status) { s.PendingWrites = len(p) })
	return len(p)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
