package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/daemon"
	"github.com/dhtdb/dhtdb/db"
	"github.com/dhtdb/dhtdb/dht"
)

// waitFor polls cond until it holds or demoWait has passed.
func waitFor(ctx context.Context, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, demoWait)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// holds reports whether daemon d has installed version ih of the database.
func (s *demoState) holds(d *daemon.Daemon, ih string) bool {
	st, err := d.Runner().Status(s.addr)
	return err == nil && st.Current == ih
}

// downloaded is the piece data each reader has read from peers so far.
func downloaded(readers []*daemon.Daemon) []int64 {
	out := make([]int64, len(readers))
	for i, r := range readers {
		out[i] = r.Runner().Metrics().DownloadedBytes.Load()
	}
	return out
}

// syncAll waits until every reader holds the newest version and says what
// it took: the time, and the piece bytes each reader read from peers (what
// delta sync did not find in the version it held).
func (s *demoState) syncAll(ctx context.Context, readers []*daemon.Daemon) (string, map[string]any, error) {
	rep := s.reports[len(s.reports)-1]
	before := downloaded(readers)
	start := time.Now()
	for i, r := range readers {
		if err := waitFor(ctx, fmt.Sprintf("reader %d to install seq %d", i+1, rep.Seq), func() bool { return s.holds(r, rep.IH.String()) }); err != nil {
			return "", nil, err
		}
	}
	took := time.Since(start)
	read := downloaded(readers)
	for i := range read {
		read[i] -= before[i]
	}
	return fmt.Sprintf("all %d readers hold seq %d after %.0f ms; bytes each read from peers for this %d-byte version: %v",
			len(readers), rep.Seq, ms(took), rep.Size, read),
		map[string]any{"seq": rep.Seq, "readers": len(readers), "ms": ms(took), "read_bytes": read, "size": rep.Size}, nil
}

func stepFollow(ctx context.Context, s *demoState) (string, map[string]any, error) {
	for _, r := range s.rdrs {
		if _, err := r.Store().Follow(s.addr); err != nil {
			return "", nil, err
		}
		if err := r.Runner().Add(s.addr); err != nil {
			return "", nil, err
		}
	}
	return s.syncAll(ctx, s.rdrs)
}

func stepSync(ctx context.Context, s *demoState) (string, map[string]any, error) {
	return s.syncAll(ctx, s.rdrs)
}

func stepQuery(ctx context.Context, s *demoState) (string, map[string]any, error) {
	d, err := s.rdrs[0].Store().DB(s.addr)
	if err != nil {
		return "", nil, err
	}
	rows, err := d.Query(ctx, "SELECT count(*), max(id) FROM notes")
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("reader 1 answers SELECT count(*), max(id) FROM notes from its local copy: %v", rows.Rows[0]),
		map[string]any{"rows": rows.Rows}, nil
}

// stepWriterLeaves: the readers pause their sync loops (their torrent
// clients keep seeding what they hold), the writer publishes seq 3 and goes
// offline before anyone fetched it.
func stepWriterLeaves(ctx context.Context, s *demoState) (string, map[string]any, error) {
	for _, r := range s.rdrs {
		r.Runner().Remove(s.addr)
	}
	detail, data, err := stepPublish(10)(ctx, s)
	if err != nil {
		return "", nil, err
	}
	if err := s.writer.Close(); err != nil {
		return "", nil, err
	}
	s.writer = nil
	for _, r := range s.rdrs {
		if err := r.Runner().Add(s.addr); err != nil {
			return "", nil, err
		}
	}
	return detail + "; the writer goes offline before anyone fetched it", data, nil
}

// stepFallback: a new reader finds seq 3, which nobody seeds; after the
// fetch timeout it installs the newest version it can complete (prev[0]).
func stepFallback(ctx context.Context, s *demoState) (string, map[string]any, error) {
	r, err := s.startDaemon(ctx, fmt.Sprintf("reader%d", len(s.rdrs)+1))
	if err != nil {
		return "", nil, err
	}
	s.rdrs = append(s.rdrs, r)
	if _, err := r.Store().Follow(s.addr); err != nil {
		return "", nil, err
	}
	if err := r.Runner().Add(s.addr); err != nil {
		return "", nil, err
	}
	v2 := s.reports[1].IH.String()
	if err := waitFor(ctx, "the new reader to fall back to seq 2", func() bool { return s.holds(r, v2) }); err != nil {
		return "", nil, err
	}
	st, err := r.Runner().Status(s.addr)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("a new reader sees seq %d, which nobody seeds; after the %v fetch timeout it serves seq 2 (from prev), %d version behind, and keeps trying",
			st.Seq, demoFetchTimeout, st.Behind),
		map[string]any{"seq": st.Seq, "current": st.Current, "versions_behind": st.Behind}, nil
}

func stepWriterBack(ctx context.Context, s *demoState) (string, map[string]any, error) {
	w, err := s.startDaemon(ctx, "writer")
	if err != nil {
		return "", nil, err
	}
	s.writer = w
	detail, data, err := s.syncAll(ctx, s.rdrs)
	return "the writer is back and seeds seq 3: " + detail, data, err
}

// stepRepublish: with the writer gone, every DHT node restarts empty; the
// readers notice at their next poll and put the signed pointer back (the
// same bytes: no key needed).
func stepRepublish(ctx context.Context, s *demoState) (string, map[string]any, error) {
	if err := s.writer.Close(); err != nil {
		return "", nil, err
	}
	s.writer = nil
	before := s.lnet.items()
	if err := s.lnet.restartAll(ctx, s.logger); err != nil {
		return "", nil, err
	}
	start := time.Now()
	if err := waitFor(ctx, "the readers to put the pointer back", func() bool { return s.lnet.items() > 0 }); err != nil {
		return "", nil, err
	}
	took := time.Since(start)
	got, err := s.client.Get(ctx, dht.GetRequest{PublicKey: s.addr.PublicKey[:], Salt: s.addr.Salt()})
	if err != nil {
		return "", nil, fmt.Errorf("get the restored pointer: %w", err)
	}
	return fmt.Sprintf("writer offline, all %d DHT nodes restarted empty (they held %d items): the readers put the pointer back within %.0f ms; a get finds seq %d on %d nodes",
			s.nodes, before, ms(took), got.Item.Seq, got.Found),
		map[string]any{"restored_ms": ms(took), "seq": got.Item.Seq, "found": got.Found}, nil
}

// stepReplay re-puts the signed seq 1 pointer, as an attacker replaying it
// would: the nodes that hold seq 3 refuse it (BEP 44 code 302).
func stepReplay(ctx context.Context, s *demoState) (string, map[string]any, error) {
	old, err := db.DecodeItem(s.reports[0].Item)
	if err != nil {
		return "", nil, err
	}
	rep, err := s.client.Put(ctx, old, dht.PutOptions{})
	refused := rep.Rejected[bep44.CodeSeqTooLow]
	if refused == 0 {
		return "", nil, fmt.Errorf("no node refused a replay of seq 1 (stored on %d): %v", rep.Stored, err)
	}
	if err != nil && !errors.Is(err, dht.ErrSeqTooLow) {
		return "", nil, fmt.Errorf("replay failed for another reason: %w", err)
	}
	detail := fmt.Sprintf("a replay of the signed seq 1 pointer is refused by %d nodes (302: seq lower than current)", refused)
	if rep.Stored > 0 {
		detail += fmt.Sprintf("; %d nodes that held nothing took it, and readers still pick the highest seq", rep.Stored)
	}
	return detail, map[string]any{"rejected_302": refused, "stored": rep.Stored}, nil
}
