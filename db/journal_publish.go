package db

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"

	"zombiezen.com/go/sqlite"

	"github.com/dhtdb/dhtdb/journal"
	"github.com/dhtdb/dhtdb/record"
	"github.com/dhtdb/dhtdb/snapshot"
	"github.com/dhtdb/dhtdb/syncer"
)

// MaxPublishAttempts bounds the races one journaled Publish runs: each lost
// race (another writer's version won) costs a catch-up and a new put.
const MaxPublishAttempts = 8

// errNoJournal: CatchUp on a database without a write journal.
var errNoJournal = errors.New("db: no write journal (Config.Journal off, or not an owned database)")

// CatchUpReport says what CatchUp did.
type CatchUpReport struct {
	Seq       int64              `json:"seq"`                 // the newest published seq seen (0: none)
	Rebased   bool               `json:"rebased"`             // the working copy now builds on that version
	Applied   int                `json:"applied"`             // our writes re-applied on top of it
	Published []journal.ID       `json:"published,omitempty"` // our writes that version contains
	Rejected  []journal.ID       `json:"rejected,omitempty"`  // our writes it contains as rejected
	Conflicts []journal.Conflict `json:"conflicts,omitempty"` // decided by our rebase, or recorded in it involving us
}

// journaled reports whether writes and publishes go through the journal.
func (d *DB) journaled() bool {
	pc := d.store.cfg.Publish
	return d.store.cfg.Journal && pc.Getter != nil && pc.Fetcher != nil
}

// CatchUp brings an owned, journaled database up to the newest published
// version, which another writer holding the key may have made: it reads the
// pointer, and when it names a version this node did not publish or build
// on, fetches it, marks the writes of ours it contains as published, and
// rebases our other writes onto a copy of it, which then replaces the
// working copy in one transaction. Conflicts are returned and logged.
func (d *DB) CatchUp(ctx context.Context) (CatchUpReport, error) {
	d.pubmu.Lock()
	defer d.pubmu.Unlock()
	rep, err := d.catchUp(ctx)
	if err != nil {
		return rep, fmt.Errorf("catch up %s: %w", d.addr, err)
	}
	return rep, nil
}

// catchUp is CatchUp with d.pubmu held.
func (d *DB) catchUp(ctx context.Context) (CatchUpReport, error) {
	if !d.journaled() {
		return CatchUpReport{}, errNoJournal
	}
	j := d.Journal()
	if j == nil {
		return CatchUpReport{}, errNoJournal
	}
	pc := d.store.cfg.Publish
	it, _, err := pc.Getter.Get(ctx, d.addr, 0)
	if errors.Is(err, ErrNoPointer) {
		return CatchUpReport{}, nil // nothing published yet
	}
	if err != nil {
		return CatchUpReport{}, fmt.Errorf("get pointer: %w", err)
	}
	st := d.State()
	rep := CatchUpReport{Seq: it.Seq}
	if it.Seq < st.Sync.Seq {
		return rep, nil // our last put is not everywhere yet
	}
	if it.Seq == st.Sync.Seq && bytes.Equal(it.V, heldValue(st)) {
		// We hold it. If it is our publish whose read-back failed, the
		// journal learns now which of our writes it contains.
		if pend, err := j.Pending(); err != nil || len(pend) == 0 || !st.Sync.HasCurrent {
			return rep, err
		}
		path, err := pc.Fetcher.Fetch(ctx, d, st.Sync.Pointer.IH, st.Sync.Pointer.IH, false)
		if err != nil {
			return rep, fmt.Errorf("held version seq %d: %w", it.Seq, err)
		}
		crep, err := j.Confirm(ctx, path, it.Seq)
		rep.Published, rep.Rejected, rep.Conflicts = crep.Published, crep.Rejected, crep.Conflicts
		return rep, err
	}
	rec, err := record.Decode(it.V)
	if err != nil {
		return rep, fmt.Errorf("pointer seq %d: %w", it.Seq, err)
	}
	path, err := pc.Fetcher.Fetch(ctx, d, syncer.Hash(rec.IH), st.Sync.Pointer.IH, st.Sync.Item != nil)
	if err != nil {
		return rep, fmt.Errorf("fetch seq %d: %w", it.Seq, err)
	}
	crep, err := j.Confirm(ctx, path, it.Seq)
	if err != nil {
		return rep, err
	}
	rep.Published, rep.Rejected, rep.Conflicts = crep.Published, crep.Rejected, crep.Conflicts
	rrep, err := d.rebaseOnto(ctx, path)
	if err != nil {
		return rep, err
	}
	rep.Rebased, rep.Applied = true, len(rrep.Applied)+len(rrep.Reapplied)
	rep.Conflicts = append(rep.Conflicts, rrep.Conflicts...)
	err = d.updateState(func(s *State) {
		if it.Seq < s.Sync.Seq {
			return
		}
		if s.Pending != nil { // signed on a version that lost: our writes are in the journal
			if pit, err := DecodeItem(s.Pending.Item); err != nil || pit.Seq <= it.Seq {
				s.Pending = nil
			}
		}
		s.Sync.Seq, s.Sync.Item, s.Sync.Pointer = it.Seq, EncodeItem(it), PointerOf(rec)
		s.Sync.Current, s.Sync.HasCurrent = rec.IH, true
	})
	if err != nil {
		return rep, fmt.Errorf("record seq %d: %w", it.Seq, err)
	}
	log := d.store.cfg.Logger
	log.Info("caught up with another writer's version", "db", d.addr.String(), "seq", it.Seq,
		"ours_published", len(rep.Published), "reapplied", rep.Applied, "conflicts", len(rep.Conflicts))
	for _, c := range rep.Conflicts {
		log.Warn("write conflict", "db", d.addr.String(), "conflict", c.String())
	}
	return rep, nil
}

func heldValue(st State) []byte {
	if st.Sync.Item == nil {
		return nil
	}
	it, err := DecodeItem(st.Sync.Item)
	if err != nil {
		return nil
	}
	return it.V
}

// rebaseOnto replaces the working copy with version (a fetched file) plus
// our writes it lacks. Under d.wmu, so no Exec slips in between: copy the
// version beside live, rebase the copy, then copy it into live with the
// backup API — one write transaction on live, so a crash leaves either the
// old working copy (the next catch-up repeats this) or the new one.
func (d *DB) rebaseOnto(ctx context.Context, version string) (journal.RebaseReport, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	w, err := d.writer()
	if err != nil {
		return journal.RebaseReport{}, err
	}
	f, err := os.CreateTemp(d.dir, snapshot.TempPattern)
	if err != nil {
		return journal.RebaseReport{}, fmt.Errorf("rebase: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp)
	if err := snapshot.Create(ctx, version, tmp); err != nil {
		return journal.RebaseReport{}, fmt.Errorf("rebase: copy version: %w", err)
	}
	c, err := sqlite.OpenConn(tmp, sqlite.OpenReadWrite)
	if err != nil {
		return journal.RebaseReport{}, fmt.Errorf("rebase: %w", err)
	}
	rep, err := d.j.Rebase(ctx, c)
	if cerr := c.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return rep, err
	}
	if err := restoreInto(ctx, w, tmp); err != nil {
		return rep, fmt.Errorf("rebase: install: %w", err)
	}
	return rep, nil
}

// restoreInto copies the database at src into the connection's database,
// all pages in one step (one transaction on dst).
func restoreInto(ctx context.Context, dst *sqlite.Conn, src string) error {
	s, err := sqlite.OpenConn(src, sqlite.OpenReadOnly)
	if err != nil {
		return err
	}
	defer s.Close()
	defer dst.SetInterrupt(dst.SetInterrupt(ctx.Done()))
	b, err := sqlite.NewBackup(dst, "main", s, "main")
	if err != nil {
		return err
	}
	_, err = b.Step(-1)
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	return err
}

// publishJournaled publishes with the journal (d.pubmu held): catch up
// with the newest version, put ours with cas, read the pointer back; when
// another writer's version won (a cas/seq rejection, or another value at
// our seq or above in the read-back), catch up again and retry.
func (d *DB) publishJournaled(ctx context.Context, key ed25519.PrivateKey) (PublishReport, error) {
	var acc PublishReport
	for attempt := 1; attempt <= MaxPublishAttempts; attempt++ {
		cu, err := d.catchUp(ctx)
		acc.Published = append(acc.Published, cu.Published...)
		acc.Rejected = append(acc.Rejected, cu.Rejected...)
		acc.Conflicts = append(acc.Conflicts, cu.Conflicts...)
		if err != nil {
			return acc, fmt.Errorf("publish %s: catch up: %w", d.addr, err)
		}
		rep, err := d.publishOnce(ctx, key)
		rep.Attempts = attempt
		rep.Published, rep.Rejected, rep.Conflicts = acc.Published, acc.Rejected, acc.Conflicts
		if errors.Is(err, ErrConflict) {
			d.store.cfg.Logger.Info("publish lost a race, catching up", "db", d.addr.String(), "seq", rep.Seq)
			acc = rep
			continue
		}
		if err != nil {
			return rep, err
		}
		if !rep.Unchanged {
			won, crep, err := d.confirmPublish(ctx, &rep)
			if err != nil {
				return rep, fmt.Errorf("publish %s: confirm seq %d: %w", d.addr, rep.Seq, err)
			}
			if !won {
				d.store.cfg.Logger.Info("publish lost in the read-back, catching up", "db", d.addr.String(), "seq", rep.Seq)
				acc = rep
				continue
			}
			rep.Published = append(rep.Published, crep.Published...)
			rep.Rejected = append(rep.Rejected, crep.Rejected...)
			rep.Conflicts = append(rep.Conflicts, crep.Conflicts...)
		} else if pend, err := d.Journal().Pending(); err == nil && len(pend) > 0 {
			// Nothing new to put, yet writes unconfirmed: a pending publish
			// a crash interrupted was just finished (Retried), or an earlier
			// read-back failed. Read the pointer back: if it is the version
			// we hold, the journal learns what it contains; if another
			// writer's version came meanwhile, we rebased onto it: publish.
			cu, err := d.catchUp(ctx)
			rep.Published = append(rep.Published, cu.Published...)
			rep.Rejected = append(rep.Rejected, cu.Rejected...)
			rep.Conflicts = append(rep.Conflicts, cu.Conflicts...)
			if err != nil {
				return rep, fmt.Errorf("publish %s: confirm seq %d: %w", d.addr, rep.Seq, err)
			}
			if cu.Rebased {
				acc = rep
				continue
			}
		}
		if pend, err := d.Journal().Pending(); err == nil {
			rep.Pending = len(pend)
		}
		return rep, nil
	}
	return acc, fmt.Errorf("publish %s: lost %d races in a row: %w", d.addr, MaxPublishAttempts, ErrConflict)
}

// confirmPublish reads the pointer back from the closest nodes after our
// put of rep. Ours won when the newest value found is ours (at equal seq
// the dht's rule for split values decides, the same for every reader); then
// the journal learns which of our writes are published.
func (d *DB) confirmPublish(ctx context.Context, rep *PublishReport) (bool, journal.ConfirmReport, error) {
	it, _, err := d.store.cfg.Publish.Getter.Get(ctx, d.addr, 0)
	if err != nil {
		return false, journal.ConfirmReport{}, fmt.Errorf("read back: %w", err)
	}
	ours, err := DecodeItem(rep.Item)
	if err != nil {
		return false, journal.ConfirmReport{}, err
	}
	if it.Seq != ours.Seq || !bytes.Equal(it.V, ours.V) {
		return false, journal.ConfirmReport{}, nil
	}
	crep, err := d.Journal().Confirm(ctx, rep.version.Path, ours.Seq)
	return err == nil, crep, err
}
