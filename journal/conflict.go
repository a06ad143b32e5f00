package journal

import (
	"fmt"
	"time"
)

// Conflict kinds: ours-theirs, where ours is the write being rebased and
// theirs the base's last write of the row.
const (
	KindUpdateUpdate = "update-update" // both changed the same columns of a row
	KindInsertInsert = "insert-insert" // both inserted a row with the same primary key
	KindDeleteUpdate = "delete-update" // we deleted a row they changed
	KindUpdateDelete = "update-delete" // we changed a row they deleted
	KindDeleteInsert = "delete-insert" // we deleted a row they inserted again
	KindInsertDelete = "insert-delete" // we inserted a key they deleted
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
