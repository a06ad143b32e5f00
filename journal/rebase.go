package journal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// Conflict kinds: ours-theirs, where ours is the write being rebased and
// theirs the base's last write of the row.
const (
	KindUpdateUpdate = "update-update" // both changed the same columns of a row
	KindInsertInsert = "insert-insert" // both inserted a row with the same primary key
	KindDeleteUpdate = "delete-update" // we deleted a row they changed
	KindUpdateDelete = "update-delete" // we changed a row they deleted
	KindConstraint   = "constraint"    // our change breaks a constraint of the base (UNIQUE, CHECK, NOT NULL)
	KindForeignKey   = "foreign-key"   // our changes leave foreign keys dangling (only with foreign_keys on)
	KindSchema       = "schema"        // a schema statement failed, or a table's shape differs
)

// Decisions of a conflict.
const (
	DecisionOurs     = "ours"     // our change was applied over theirs
	DecisionTheirs   = "theirs"   // their row was kept, our change dropped
	DecisionMerged   = "merged"   // per column: each side kept what only it changed; where both did, the later
	DecisionRejected = "rejected" // PolicyReject (or an unmergeable change): our whole write was not applied
	DecisionSkipped  = "skipped"  // our schema statement or table change could not apply and was dropped
)

// Conflict is one conflict decided while rebasing, as data.
type Conflict struct {
	Table      string    `json:"table"`
	Key        []any     `json:"key"` // the row's primary key values
	Kind       string    `json:"kind"`
	Columns    []string  `json:"columns,omitempty"` // update-update: the columns both changed
	Ours       ID        `json:"ours"`              // the rebased write
	OursTime   time.Time `json:"ours_time"`
	Theirs     ID        `json:"theirs"`      // the base's last write of the row; zero when unknown
	TheirsTime time.Time `json:"theirs_time"` // zero when unknown
	Decision   string    `json:"decision"`
}

func (c Conflict) String() string {
	return fmt.Sprintf("%s %s%v: %s (ours %s at %s, theirs %s at %s)", c.Kind, c.Table, c.Key, c.Decision,
		c.Ours, c.OursTime.Format(time.RFC3339Nano), c.Theirs, c.TheirsTime.Format(time.RFC3339Nano))
}

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
	for _, s := range e.steps {
		var cs []Conflict
		var rej bool
		switch s.Kind {
		case stepSQL:
			cs, rej, err = applySQL(c, e, string(s.Data))
		case stepChangeset:
			cs, rej, err = applyChangeset(c, e, s.Data, reject)
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

// fix is a column update decided by the merge rule, run after the apply.
type fix struct {
	table string
	key   []any
	cols  []int
	vals  []any
}

// applyChangeset applies one changeset with the conflict rule.
func applyChangeset(c *sqlite.Conn, e Entry, data []byte, reject bool) ([]Conflict, bool, error) {
	chs, err := parseChangeset(data)
	if err != nil {
		return nil, false, err
	}
	ts := e.Time.UnixNano()
	var confs []Conflict
	names := map[string][]string{}
	skip := map[string]bool{}
	byKey := map[string]*change{}
	theirs := map[string]stamp{}
	for i := range chs {
		ch := &chs[i]
		if _, seen := names[ch.Table]; !seen && !skip[ch.Table] {
			pk, cols, err := tableShape(c, ch.Table)
			if err != nil {
				return nil, false, err
			}
			// Columns added to the base since (ALTER TABLE ADD COLUMN appends)
			// are fine: SQLite gives them their defaults. Anything else is not.
			if len(pk) < len(ch.PK) || !slices.Equal(pk[:len(ch.PK)], ch.PK) || slices.Contains(pk[len(ch.PK):], true) {
				skip[ch.Table] = true
				confs = append(confs, Conflict{Table: ch.Table, Kind: KindSchema, Ours: e.ID, OursTime: e.Time,
					Decision: DecisionSkipped})
				continue
			}
			names[ch.Table] = cols
		}
		if skip[ch.Table] {
			continue
		}
		k := rowKey(ch.Table, ch.key())
		byKey[k] = ch
		st, ok, err := getRowStamp(c, ch.Table, ch.key())
		if err != nil {
			return nil, false, err
		}
		if ok {
			theirs[k] = st
		}
	}
	if reject && len(confs) > 0 {
		return confs, true, nil
	}
	var fixes []fix
	decided := map[string]string{}
	var herr error
	handler := func(ct sqlite.ConflictType, it *sqlite.ChangesetIterator) sqlite.ConflictAction {
		if ct == sqlite.ChangesetForeignKey {
			confs = append(confs, Conflict{Kind: KindForeignKey, Ours: e.ID, OursTime: e.Time, Decision: DecisionOurs})
			return sqlite.ChangesetOmit
		}
		ch, k, err := iterChange(it, byKey)
		if err != nil {
			herr = err
			return sqlite.ChangesetAbort
		}
		th, known := theirs[k]
		oursLater := !known || later(ts, e.ID, th.TS, th.ID)
		add := func(kind, decision string, cols []string) {
			cf := Conflict{Table: ch.Table, Key: ch.key(), Kind: kind, Columns: cols, Ours: e.ID, OursTime: e.Time,
				Decision: decision}
			if known {
				cf.Theirs, cf.TheirsTime = th.ID, time.Unix(0, th.TS).UTC()
			}
			confs = append(confs, cf)
			decided[k] = decision
		}
		switch ct {
		case sqlite.ChangesetData:
			if ch.Op == opDelete { // a delete wins over a concurrent update
				add(KindDeleteUpdate, DecisionOurs, nil)
				if reject {
					return sqlite.ChangesetOmit
				}
				return sqlite.ChangesetReplace
			}
			f := fix{table: ch.Table, key: ch.key()}
			var both []string
			theirsWon := false
			for i := range ch.New {
				if !ch.New[i].Defined || ch.PK[i] {
					continue
				}
				v, err := it.ConflictValue(i)
				if err != nil {
					herr = err
					return sqlite.ChangesetAbort
				}
				cur := goValue(v)
				switch {
				case equalValue(cur, ch.New[i].V):
				case equalValue(cur, ch.Old[i].V):
					f.cols, f.vals = append(f.cols, i), append(f.vals, ch.New[i].V)
				default:
					both = append(both, names[ch.Table][i])
					if oursLater {
						f.cols, f.vals = append(f.cols, i), append(f.vals, ch.New[i].V)
					} else {
						theirsWon = true
					}
				}
			}
			if len(both) > 0 {
				d := DecisionOurs
				if theirsWon {
					d = DecisionTheirs
					if len(f.cols) > 0 {
						d = DecisionMerged
					}
				}
				add(KindUpdateUpdate, d, both)
			}
			if len(f.cols) > 0 && !(reject && len(both) > 0) {
				fixes = append(fixes, f)
			}
			return sqlite.ChangesetOmit
		case sqlite.ChangesetNotFound:
			if ch.Op == opUpdate { // they deleted the row: the delete wins
				add(KindUpdateDelete, DecisionTheirs, nil)
			}
			return sqlite.ChangesetOmit
		case sqlite.ChangesetConflict:
			same := true
			for i := range ch.New {
				v, err := it.ConflictValue(i)
				if err != nil {
					herr = err
					return sqlite.ChangesetAbort
				}
				same = same && equalValue(goValue(v), ch.New[i].V)
			}
			if same {
				return sqlite.ChangesetOmit
			}
			if oursLater {
				add(KindInsertInsert, DecisionOurs, nil)
				if reject {
					return sqlite.ChangesetOmit
				}
				return sqlite.ChangesetReplace
			}
			add(KindInsertInsert, DecisionTheirs, nil)
			return sqlite.ChangesetOmit
		default: // constraint
			add(KindConstraint, DecisionSkipped, nil)
			return sqlite.ChangesetOmit
		}
	}
	// One table at a time, so a table SQLite cannot apply the changes to
	// (its columns changed meaning: a type mismatch, a constraint on a new
	// column) is skipped and reported alone.
	var tables []string
	for _, ch := range chs {
		if !skip[ch.Table] && !slices.Contains(tables, ch.Table) {
			tables = append(tables, ch.Table)
		}
	}
	for _, tb := range tables {
		nc, nf := len(confs), len(fixes)
		filter := func(table string) bool { return table == tb }
		err := c.ApplyChangeset(strings.NewReader(string(data)), filter, handler)
		if herr != nil {
			return nil, false, herr
		}
		if err != nil {
			confs, fixes = confs[:nc], fixes[:nf]
			skip[tb] = true
			confs = append(confs, Conflict{Table: tb, Kind: KindSchema, Ours: e.ID, OursTime: e.Time, Decision: DecisionSkipped})
		}
	}
	if reject && len(confs) > 0 {
		return confs, true, nil
	}
	for _, f := range fixes {
		if err := runFix(c, f, names[f.table], byKey[rowKey(f.table, f.key)].PK); err != nil {
			return nil, false, fmt.Errorf("merge %s: %w", f.table, err)
		}
	}
	for k, ch := range byKey {
		if skip[ch.Table] {
			continue
		}
		d, conflicted := decided[k]
		th := theirs[k]
		if !conflicted || d == DecisionOurs || (d == DecisionMerged && later(ts, e.ID, th.TS, th.ID)) {
			if err := setRowStamp(c, ch.Table, ch.key(), stamp{e.ID, ts}); err != nil {
				return nil, false, err
			}
		}
	}
	return confs, false, nil
}

// iterChange finds the parsed change the iterator is on.
func iterChange(it *sqlite.ChangesetIterator, byKey map[string]*change) (*change, string, error) {
	op, err := it.Operation()
	if err != nil {
		return nil, "", err
	}
	pk, err := it.PrimaryKey()
	if err != nil {
		return nil, "", err
	}
	var key []any
	for i, p := range pk {
		if !p {
			continue
		}
		var v sqlite.Value
		if op.Type == sqlite.OpInsert {
			v, err = it.New(i)
		} else {
			v, err = it.Old(i)
		}
		if err != nil {
			return nil, "", err
		}
		key = append(key, goValue(v))
	}
	k := rowKey(op.TableName, key)
	ch := byKey[k]
	if ch == nil {
		return nil, "", errors.New("conflict on a change not in the changeset")
	}
	return ch, k, nil
}

func runFix(c *sqlite.Conn, f fix, names []string, pk []bool) error {
	var set, where []string
	args := slices.Clone(f.vals)
	for _, i := range f.cols {
		set = append(set, quoteIdent(names[i])+" = ?")
	}
	ki := 0
	for i, p := range pk {
		if p {
			where = append(where, quoteIdent(names[i])+" = ?")
			args = append(args, f.key[ki])
			ki++
		}
	}
	q := "UPDATE " + quoteIdent(f.table) + " SET " + strings.Join(set, ", ") + " WHERE " + strings.Join(where, " AND ")
	return sqlitex.Execute(c, q, &sqlitex.ExecOptions{Args: args})
}

func goValue(v sqlite.Value) any {
	switch v.Type() {
	case sqlite.TypeInteger:
		return v.Int64()
	case sqlite.TypeFloat:
		return v.Float()
	case sqlite.TypeText:
		return v.Text()
	case sqlite.TypeBlob:
		return v.Blob()
	}
	return nil
}
