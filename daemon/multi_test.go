package daemon

import (
	"context"
	"fmt"
	"testing"
)

// TestTwoWritersOneKey: two journaled writers hold the same key; one joins
// the other's database, both write and publish; a reader ends up with every
// write of both, and each writer's journal has nothing left pending.
func TestTwoWritersOneKey(t *testing.T) {
	ctx := context.Background()
	n := newTestNet(t)
	a := n.startWith(t, "", fast(), true)
	b := n.startWith(t, "", fast(), true)
	r := n.start(t, "", fast())
	addr, da := a.create(t, n.key, "shared")
	exec(t, da, "CREATE TABLE t(k INTEGER PRIMARY KEY, who TEXT)")
	exec(t, da, "INSERT INTO t VALUES (0, 'a')")
	if _, err := a.runner.Publish(ctx, addr, n.key); err != nil {
		t.Fatal(err)
	}
	db2, err := b.store.Join(addr, n.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.runner.Add(addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the joined writer to catch up", func() bool { return count(t, b, addr) == 1 })
	r.follow(t, addr)

	for i := 1; i <= 5; i++ {
		exec(t, da, "INSERT INTO t VALUES (?, 'a')", 2*i)
		exec(t, db2, "INSERT INTO t VALUES (?, 'b')", 2*i+1)
		a.runner.Wrote(addr)
		b.runner.Wrote(addr)
	}
	eventually(t, "the reader to hold all 11 rows", func() bool { return count(t, r, addr) == 11 })
	for name, w := range map[string]*testNode{"a": a, "b": b} {
		eventually(t, fmt.Sprintf("writer %s's writes all published", name), func() bool {
			d, _ := w.store.DB(addr)
			p, err := d.Journal().Pending()
			return err == nil && len(p) == 0
		})
	}
}
