package journal

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// fix is a column update decided by the merge rule, run after the apply.
type fix struct {
	table string
	key   []any
	cols  []int
	vals  []any
	del   bool // delete the row instead
}

// applyChangeset applies one changeset with the conflict rule.
// olds (nil for entries recorded without them) are the stamps each changed
// row had when the write was made: a column whose stamp in the base differs
// was written concurrently, even if its value happens to be the one the
// change replaced.
func applyChangeset(c *sqlite.Conn, e Entry, data []byte, olds *step, reject bool) ([]Conflict, bool, error) {
	chs, err := parseChangeset(data)
	if err != nil {
		return nil, false, err
	}
	var seen []rowStamps
	if olds != nil {
		if seen, err = parseRowStamps(olds.Data, len(chs), olds.Kind == stepSeen); err != nil {
			return nil, false, err
		}
	}
	seenOf := map[string]rowStamps{}
	ts := e.Time.UnixNano()
	var confs []Conflict
	names := map[string][]string{}
	skip := map[string]bool{}
	byKey := map[string]*change{}
	theirs := map[string]rowStamps{} // the base's stamps of each changed row
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
		if seen != nil {
			seenOf[k] = seen[i]
		}
		rs, _, err := getRowStamps(c, ch.Table, ch.key())
		if err != nil {
			return nil, false, err
		}
		theirs[k] = rs
	}
	if reject && len(confs) > 0 {
		return confs, true, nil
	}
	var fixes []fix
	handled := map[string]bool{} // rows the conflict handler saw
	deleted := map[string]bool{} // rows our delete removed over a conflict
	revive := map[string]stamp{} // rows our insert made again over a concurrent delete: the death we had seen
	taken := map[string][]int{}  // columns of those rows our change set
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
		handled[k] = true
		th := theirs[k]
		sn, hasSeen := seenOf[k]
		concurrent := func(i int) bool { return hasSeen && th.col(i) != sn.col(i) }
		add := func(kind, decision string, cols []string, their stamp) {
			cf := Conflict{Table: ch.Table, Key: ch.key(), Kind: kind, Columns: cols, Ours: e.ID, OursTime: e.Time,
				Decision: decision}
			if their.TS != 0 || their.ID != (ID{}) {
				cf.Theirs, cf.TheirsTime = their.ID, time.Unix(0, their.TS).UTC()
			}
			confs = append(confs, cf)
		}
		switch ct {
		case sqlite.ChangesetNotFound:
			if ch.Op == opUpdate { // they deleted the row: the delete wins
				add(KindUpdateDelete, DecisionTheirs, nil, th.row)
			}
			return sqlite.ChangesetOmit
		case sqlite.ChangesetData, sqlite.ChangesetConflict:
			if ch.Op == opDelete && hasSeen && th.born != sn.born && th.born != (stamp{}) {
				// Inserted again since we saw it: the later of the two wins.
				if !later(ts, e.ID, th.born.TS, th.born.ID) {
					add(KindDeleteInsert, DecisionTheirs, nil, th.born)
					return sqlite.ChangesetOmit
				}
				add(KindDeleteInsert, DecisionOurs, nil, th.born)
				if reject {
					return sqlite.ChangesetOmit
				}
				deleted[k] = true
				return sqlite.ChangesetReplace
			}
			if ch.Op == opDelete { // a delete wins over a concurrent update
				add(KindDeleteUpdate, DecisionOurs, nil, th.row)
				if reject {
					return sqlite.ChangesetOmit
				}
				deleted[k] = true
				return sqlite.ChangesetReplace
			}
			if ch.Op == opUpdate && hasSeen && th.dead != sn.dead {
				// The row we changed was deleted (and inserted again) since:
				// our update was to a row that is gone.
				add(KindUpdateDelete, DecisionTheirs, nil, th.dead)
				return sqlite.ChangesetOmit
			}
			// An update whose old values differ, or an insert of an existing
			// key: column by column, a value only we changed is ours; one
			// both changed goes to the later write of that column.
			f := fix{table: ch.Table, key: ch.key()}
			var both []string
			var their stamp
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
				case ch.Op == opUpdate && equalValue(cur, ch.Old[i].V) && !concurrent(i):
					f.cols, f.vals = append(f.cols, i), append(f.vals, ch.New[i].V)
				default:
					both = append(both, names[ch.Table][i])
					tc := th.col(i)
					if later(tc.TS, tc.ID, their.TS, their.ID) {
						their = tc
					}
					if later(ts, e.ID, tc.TS, tc.ID) {
						f.cols, f.vals = append(f.cols, i), append(f.vals, ch.New[i].V)
					} else {
						theirsWon = true
					}
				}
			}
			kind := KindUpdateUpdate
			if ch.Op == opInsert {
				kind = KindInsertInsert
			}
			if len(both) > 0 {
				d := DecisionOurs
				if theirsWon {
					d = DecisionTheirs
					if len(f.cols) > 0 {
						d = DecisionMerged
					}
				}
				add(kind, d, both, their)
			}
			if len(f.cols) > 0 && !(reject && len(both) > 0) {
				fixes = append(fixes, f)
				taken[k] = f.cols
			}
			return sqlite.ChangesetOmit
		default: // constraint
			add(KindConstraint, DecisionSkipped, nil, th.row)
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
	// Inserts SQLite applied because the key was free, where another writer
	// deleted the row concurrently: the later of the two wins.
	for k, ch := range byKey {
		sn, hasSeen := seenOf[k]
		if skip[ch.Table] || handled[k] || ch.Op != opInsert || !hasSeen {
			continue
		}
		th := theirs[k]
		if th.row == (stamp{}) || th.row == sn.row {
			continue // no row before, or the deletion we had seen
		}
		cf := Conflict{Table: ch.Table, Key: ch.key(), Kind: KindInsertDelete, Ours: e.ID, OursTime: e.Time,
			Decision: DecisionOurs, Theirs: th.row.ID, TheirsTime: time.Unix(0, th.row.TS).UTC()}
		if !later(ts, e.ID, th.row.TS, th.row.ID) { // their delete stands
			cf.Decision = DecisionTheirs
			handled[k] = true
			fixes = append(fixes, fix{table: ch.Table, key: ch.key(), del: true})
		} else { // our row stands, as we made it: our later updates of it are not to a deleted row
			revive[k] = sn.dead
		}
		confs = append(confs, cf)
	}
	// Updates SQLite applied because the values matched, on columns another
	// writer set concurrently (to the very value this change replaced):
	// the later write of the column wins here too.
	for k, ch := range byKey {
		sn, hasSeen := seenOf[k]
		if skip[ch.Table] || handled[k] || ch.Op != opUpdate || !hasSeen {
			continue
		}
		th := theirs[k]
		f := fix{table: ch.Table, key: ch.key()}
		if th.dead != sn.dead { // deleted and inserted again since: our update was to a row that is gone
			for i := range ch.New {
				if ch.New[i].Defined && !ch.PK[i] {
					f.cols, f.vals = append(f.cols, i), append(f.vals, ch.Old[i].V)
				}
			}
			confs = append(confs, Conflict{Table: ch.Table, Key: ch.key(), Kind: KindUpdateDelete, Ours: e.ID,
				OursTime: e.Time, Decision: DecisionTheirs, Theirs: th.dead.ID, TheirsTime: time.Unix(0, th.dead.TS).UTC()})
			handled[k] = true
			fixes = append(fixes, f)
			continue
		}
		var both, kept []string
		var keep []int
		var their stamp
		for i := range ch.New {
			if !ch.New[i].Defined || ch.PK[i] {
				continue
			}
			tc := th.col(i)
			if tc == sn.col(i) {
				keep = append(keep, i)
				continue
			}
			both = append(both, names[ch.Table][i])
			if later(tc.TS, tc.ID, their.TS, their.ID) {
				their = tc
			}
			if later(ts, e.ID, tc.TS, tc.ID) {
				keep = append(keep, i)
			} else { // theirs: put their value (the one ours replaced) back
				f.cols, f.vals = append(f.cols, i), append(f.vals, ch.Old[i].V)
				kept = append(kept, names[ch.Table][i])
			}
		}
		if len(both) == 0 {
			continue
		}
		d := DecisionOurs
		if len(kept) > 0 {
			d = DecisionTheirs
			if len(keep) > 0 {
				d = DecisionMerged
			}
		}
		cf := Conflict{Table: ch.Table, Key: ch.key(), Kind: KindUpdateUpdate, Columns: both, Ours: e.ID,
			OursTime: e.Time, Decision: d, Theirs: their.ID, TheirsTime: time.Unix(0, their.TS).UTC()}
		confs = append(confs, cf)
		handled[k], taken[k] = true, keep
		if len(f.cols) > 0 {
			fixes = append(fixes, f)
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
	ours := stamp{e.ID, ts}
	for k, ch := range byKey {
		if skip[ch.Table] {
			continue
		}
		rs := theirs[k]
		switch {
		case !handled[k]: // applied as it was
			stampChange(&rs, ch, ours)
			if d, ok := revive[k]; ok {
				rs.dead = d
			}
		case deleted[k]: // our delete won: the deletion is the row's last event
			rs.row, rs.dead = ours, ours
		case ch.Op == opDelete: // gone already, or their re-insert stands
		default:
			for _, i := range taken[k] {
				rs.set(i, ours)
			}
		}
		if err := setRowStamps(c, ch.Table, ch.key(), rs); err != nil {
			return nil, false, err
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
	if f.del {
		q = "DELETE FROM " + quoteIdent(f.table) + " WHERE " + strings.Join(where, " AND ")
	}
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
