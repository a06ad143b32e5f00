package snapshot

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

var benchMB = flag.Int("snapshot.mb", 100, "database size for BenchmarkSnapshotDelta, in MB")

// BenchmarkSnapshotDelta builds a database of -snapshot.mb MB and
// reports the snapshot and hashing throughput and, for a 1-row and two
// 1000-row changes, the bytes a follower receives (changed pieces plus
// the info dictionary) over the database size.
//
//	go test -run '^$' -bench SnapshotDelta -benchtime 1x ./snapshot/
func BenchmarkSnapshotDelta(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	rows := *benchMB * 1000 * 1000 / 450 // ~450 bytes a row with overhead
	src := filepath.Join(dir, "src.db")
	c := openDB(b, src, true)
	exec(b, c, "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
	exec(b, c, "BEGIN")
	for i := range rows {
		exec(b, c, "INSERT INTO t (id, body) VALUES (?, ?)", i, rowBody(i, 0, 400))
	}
	exec(b, c, "COMMIT")

	for b.Loop() {
		p := filepath.Join(dir, "v0")
		start := time.Now()
		if err := Create(ctx, src, p); err != nil {
			b.Fatal(err)
		}
		created := time.Since(start)
		start = time.Now()
		prev, err := NewInfo(ctx, p, "db.sqlite")
		if err != nil {
			b.Fatal(err)
		}
		hashed := time.Since(start)
		mb := float64(prev.Length) / (1 << 20)
		b.ReportMetric(float64(prev.Length), "db_bytes")
		b.ReportMetric(mb/created.Seconds(), "snapshot_MiB/s")
		b.ReportMetric(mb/hashed.Seconds(), "hash_MiB/s")
		b.Logf("%d bytes, %d pieces of %d KiB", prev.Length, prev.NumPieces(), prev.PieceLength>>10)

		for i, ch := range []struct{ name, sql string }{
			{"1row", "UPDATE t SET body = 'one row' WHERE id = " + strconv.Itoa(rows/2)},
			{"1000rows_contiguous", "UPDATE t SET body = upper(body) WHERE id BETWEEN " + strconv.Itoa(rows/3) + " AND " + strconv.Itoa(rows/3+999)},
			{"1000rows_spread", "UPDATE t SET body = upper(body) WHERE id IN (SELECT id FROM t WHERE id % " + strconv.Itoa(rows/1000) + " = 7 LIMIT 1000)"},
		} {
			exec(b, c, ch.sql)
			if n := c.Changes(); n != 1 && n != 1000 {
				b.Fatalf("%s changed %d rows", ch.name, n)
			}
			p := filepath.Join(dir, "v"+strconv.Itoa(i+1))
			if err := Create(ctx, src, p); err != nil {
				b.Fatal(err)
			}
			next, err := NewInfo(ctx, p, "db.sqlite")
			if err != nil {
				b.Fatal(err)
			}
			plan, err := PlanDelta(prev, next)
			if err != nil {
				b.Fatal(err)
			}
			if i == 0 {
				// Assembling the new file from the old: the local cost
				// of a delta (copy and re-hash the reused pieces).
				start := time.Now()
				a, err := Assemble(ctx, filepath.Join(dir, "v0"), prev, next, plan, "")
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(a.CopiedBytes)/(1<<20)/time.Since(start).Seconds(), "assemble_MiB/s")
				os.Remove(a.Path)
			}
			meta, _ := InfoBytes(next)
			got := plan.FetchBytes(next) + int64(len(meta))
			ratio := float64(got) / float64(next.Length)
			b.ReportMetric(float64(len(plan.Fetch)), ch.name+"_pieces")
			b.ReportMetric(100*ratio, ch.name+"_%")
			b.Logf("%s: %d pieces + %d B metadata = %d B received, %.3f%% of %d B",
				ch.name, len(plan.Fetch), len(meta), got, 100*ratio, next.Length)
			prev = next
		}
	}
}
