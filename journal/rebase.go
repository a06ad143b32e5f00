package journal

import (
	"context"
	"fmt"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// RebaseReport says what Rebase did.
type RebaseReport struct {
	Applied   []ID       `json:"applied,omitempty"`   // writes applied on top of the base
	Skipped   []ID       `json:"skipped,omitempty"`   // already contained in the base
	Rejected  []ID       `json:"rejected,omitempty"`  // not applied by the conflict rule (recorded as rejected)
	Reapplied []ID       `json:"reapplied,omitempty"` // confirmed published earlier, yet missing from the base: applied again
	Conflicts []Conflict `json:"conflicts,omitempty"`
}

// Rebase applies this writer's writes that base (a connection to a copy of
// another version, or to the working copy itself) does not contain, in
// journal order, each with its schema statements and changesets in the order
// they ran, in one transaction. A write already in base (its id is in
// base's _dhtdb_changesets) is never applied twice. Same-row conflicts
// follow the journal's Policy and are returned, recorded in base's
// _dhtdb_conflicts and logged. base must not be inside a transaction.
//
// Repair is Rebase on the working copy: run at start-up, it applies an entry
// whose live commit a crash prevented.
func (j *Journal) Rebase(ctx context.Context, base *sqlite.Conn) (rep RebaseReport, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.conn == nil {
		return rep, errClosed
	}
	defer base.SetInterrupt(base.SetInterrupt(ctx.Done()))
	if err := sqlitex.ExecuteTransient(base, "BEGIN IMMEDIATE", nil); err != nil {
		return rep, fmt.Errorf("rebase: begin: %w", err)
	}
	done := false
	defer func() {
		if !done {
			sqlitex.ExecuteTransient(base, "ROLLBACK", nil)
		}
	}()
	if err := ensureReserved(base); err != nil {
		return rep, fmt.Errorf("rebase: %w", err)
	}
	marks, err := markers(base, j.writer)
	if err != nil {
		return rep, fmt.Errorf("rebase: %w", err)
	}
	for n := range marks {
		if n >= j.next { // the journal lost entries: never reuse a counter
			j.next = n + 1
		}
	}
	all, err := j.entries(false, false)
	if err != nil {
		return rep, fmt.Errorf("rebase: %w", err)
	}
	for _, e := range all {
		if _, ok := marks[e.ID.Counter]; ok {
			rep.Skipped = append(rep.Skipped, e.ID)
			continue
		}
		if e.State == "rejected" {
			continue
		}
		if e.steps, err = j.steps(e.ID.Counter); err != nil {
			return rep, fmt.Errorf("rebase: %w", err)
		}
		confs, rejected, err := j.applyEntry(base, e)
		if err != nil {
			return rep, fmt.Errorf("rebase %s: %w", e.ID, err)
		}
		rep.Conflicts = append(rep.Conflicts, confs...)
		for n := range confs { // reported here: Confirm need not report them again
			if err := sqlitex.Execute(j.conn, "INSERT OR IGNORE INTO seen_conflicts(writer, counter, n) VALUES(?, ?, ?)",
				&sqlitex.ExecOptions{Args: []any{e.ID.Writer[:], e.ID.Counter, n}}); err != nil {
				return rep, fmt.Errorf("rebase: %w", err)
			}
		}
		switch {
		case rejected:
			rep.Rejected = append(rep.Rejected, e.ID)
		case e.State == "published":
			// Confirmed once, yet missing here (the version holding it lost a
			// split): pending again until a published version holds it.
			if err := sqlitex.Execute(j.conn, "UPDATE entries SET state = 0, seq = 0 WHERE counter = ?",
				&sqlitex.ExecOptions{Args: []any{e.ID.Counter}}); err != nil {
				return rep, fmt.Errorf("rebase: %w", err)
			}
			rep.Reapplied = append(rep.Reapplied, e.ID)
		default:
			rep.Applied = append(rep.Applied, e.ID)
		}
	}
	if err := sqlitex.ExecuteTransient(base, "COMMIT", nil); err != nil {
		return RebaseReport{}, fmt.Errorf("rebase: commit: %w", err)
	}
	done = true
	for _, c := range rep.Conflicts {
		j.cfg.Logger.Warn("journal: conflict", "table", c.Table, "key", fmt.Sprint(c.Key), "kind", c.Kind,
			"decision", c.Decision, "ours", c.Ours.String(), "theirs", c.Theirs.String())
	}
	return rep, nil
}

func (j *Journal) steps(counter int64) ([]step, error) {
	var out []step
	err := sqlitex.Execute(j.conn, "SELECT kind, data FROM steps WHERE counter = ? ORDER BY idx",
		&sqlitex.ExecOptions{Args: []any{counter}, ResultFunc: func(s *sqlite.Stmt) error {
			out = append(out, step{Kind: s.ColumnInt(0), Data: columnBytes(s, 1)})
			return nil
		}})
	return out, err
}

// applyEntry applies one write inside a savepoint and records its marker.
func (j *Journal) applyEntry(c *sqlite.Conn, e Entry) (confs []Conflict, rejected bool, err error) {
	if err := sqlitex.ExecuteTransient(c, "SAVEPOINT dhtdb_entry", nil); err != nil {
		return nil, false, err
	}
	released := false
	defer func() {
		if !released {
			sqlitex.ExecuteTransient(c, "ROLLBACK TO dhtdb_entry", nil)
			sqlitex.ExecuteTransient(c, "RELEASE dhtdb_entry", nil)
		}
	}()
	reject := j.cfg.Policy == PolicyReject
	for n, s := range e.steps {
		var cs []Conflict
		var rej bool
		switch s.Kind {
		case stepSQL:
			cs, rej, err = applySQL(c, e, string(s.Data))
		case stepChangeset:
			var seen *step
			if n+1 < len(e.steps) && (e.steps[n+1].Kind == stepStamps || e.steps[n+1].Kind == stepSeen) {
				seen = &e.steps[n+1]
			}
			cs, rej, err = applyChangeset(c, e, s.Data, seen, reject)
		case stepStamps, stepSeen: // read with its changeset
		default:
			err = fmt.Errorf("unknown step kind %d", s.Kind)
		}
		if err != nil {
			return nil, false, err
		}
		confs = append(confs, cs...)
		if rej || (reject && len(cs) > 0) {
			rejected = true
			break
		}
	}
	status := markApplied
	if rejected {
		status = markRejected
		for i := range confs {
			confs[i].Decision = DecisionRejected
		}
		if err := sqlitex.ExecuteTransient(c, "ROLLBACK TO dhtdb_entry", nil); err != nil {
			return nil, false, err
		}
	}
	if err := insertMarker(c, e.ID, e.Time.UnixNano(), status); err != nil {
		return nil, false, fmt.Errorf("marker: %w", err)
	}
	for i, cf := range confs {
		if err := insertConflict(c, e.ID, i, cf); err != nil {
			return nil, false, fmt.Errorf("record conflict: %w", err)
		}
	}
	released = true
	if err := sqlitex.ExecuteTransient(c, "RELEASE dhtdb_entry", nil); err != nil {
		return nil, false, err
	}
	return confs, rejected, nil
}

// applySQL replays a schema statement; one that fails is a schema conflict.
func applySQL(c *sqlite.Conn, e Entry, text string) ([]Conflict, bool, error) {
	if err := sqlitex.ExecuteTransient(c, "SAVEPOINT dhtdb_ddl", nil); err != nil {
		return nil, false, err
	}
	err := sqlitex.ExecuteTransient(c, text, nil)
	if err != nil {
		sqlitex.ExecuteTransient(c, "ROLLBACK TO dhtdb_ddl", nil)
	}
	if rerr := sqlitex.ExecuteTransient(c, "RELEASE dhtdb_ddl", nil); rerr != nil {
		return nil, false, rerr
	}
	if err == nil {
		return nil, false, nil
	}
	return []Conflict{{Table: firstWords(text), Kind: KindSchema, Ours: e.ID, OursTime: e.Time,
		Decision: DecisionSkipped}}, false, nil
}

func firstWords(s string) string {
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return s
}
