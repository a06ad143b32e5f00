package journal

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"zombiezen.com/go/sqlite"

	"github.com/dhtdb/dhtdb/snapshot"
)

// Property: three concurrent writers' histories give the same content in
// three different publish orders (each later one rebasing onto the result).
// (40 random histories here; 150 passed when the rule was written.)
func TestRebaseThreeWritersOrderIndependence(t *testing.T) {
	for seed := range uint64(40) {
		clk := newClock()
		o := newWriter(t, clk, "", "", 9)
		o.exec(`CREATE TABLE t(id INTEGER PRIMARY KEY, a INTEGER, b INTEGER, s TEXT);
			INSERT INTO t VALUES(1, 0, 0, 'x'), (2, 0, 0, 'y'), (3, 0, 0, 'z'), (4, 0, 0, 'w')`)
		base := o.snapshot()
		ws := []*writer{newWriter(t, clk, base, "", 1), newWriter(t, clk, base, "", 2), newWriter(t, clk, base, "", 3)}
		rng := rand.New(rand.NewPCG(seed, 3))
		for n := range 9 {
			w := ws[rng.IntN(3)]
			id := 1 + rng.IntN(6)
			v := 1000*(n+1) + rng.IntN(1000)
			switch rng.IntN(5) {
			case 0:
				w.exec("INSERT OR REPLACE INTO t(id, a, b, s) VALUES(?, ?, ?, ?)", id, v, v+1, fmt.Sprint("new", v))
			case 1:
				w.exec("DELETE FROM t WHERE id = ?", id)
			case 2:
				w.exec("UPDATE t SET a = ? WHERE id = ?", v, id)
			case 3:
				w.exec("UPDATE t SET b = ?, s = ? WHERE id = ?", v, fmt.Sprint(v), id)
			default:
				w.exec("UPDATE t SET a = a + 1 WHERE id = ?", id)
			}
		}
		snaps := []string{ws[0].snapshot(), ws[1].snapshot(), ws[2].snapshot()}
		result := func(order []int) string {
			cur := snaps[order[0]]
			for _, i := range order[1:] {
				w := ws[i]
				tmp := filepath.Join(w.dir, fmt.Sprintf("p%d.sqlite", tmpSeq.Add(1)))
				if err := snapshot.Create(t.Context(), cur, tmp); err != nil {
					t.Fatal(err)
				}
				c, err := sqlite.OpenConn(tmp, sqlite.OpenReadWrite)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.j.Rebase(t.Context(), c); err != nil {
					t.Fatal(err)
				}
				c.Close()
				cur = tmp
			}
			return dump(t, cur, false)
		}
		r1 := result([]int{0, 1, 2})
		r2 := result([]int{2, 1, 0})
		r3 := result([]int{1, 0, 2})
		if r1 != r2 || r1 != r3 {
			t.Fatalf("seed %d: the publish order changes the result:\n%s\n%s\n%s", seed, r1, r2, r3)
		}
	}
}
