package journal

import (
	"context"
	"testing"

	"zombiezen.com/go/sqlite/sqlitex"
)

// BenchmarkExec: one journaled single-row insert (session, journal append
// with fsync, live commit with fsync), against the same insert without the
// journal.
func BenchmarkExec(b *testing.B) {
	b.Run("journaled", func(b *testing.B) {
		w := newWriter(b, newClock(), "", "", 1)
		w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
		b.ResetTimer()
		for i := range b.N {
			if _, err := w.j.Exec(context.Background(), w.live, "INSERT INTO t VALUES(?, 'some text')", i); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		w := newWriter(b, newClock(), "", "", 1)
		w.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
		b.ResetTimer()
		for i := range b.N {
			if err := sqlitex.Execute(w.live, "INSERT INTO t VALUES(?, 'some text')", &sqlitex.ExecOptions{Args: []any{i}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRebase: 100 pending single-row writes rebased onto another
// writer's version (copy made outside the timer).
func BenchmarkRebase(b *testing.B) {
	a, w, _ := twoWriters2(b)
	for i := range 100 {
		w.exec("INSERT INTO kv VALUES(?, 'w', ?)", "w"+string(rune('a'+i%26))+string(rune('a'+i/26)), i)
	}
	a.exec("INSERT INTO kv VALUES('a', 'a', 0)")
	va := a.snapshot()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		cp := w.snapshotOf(va)
		b.StartTimer()
		if _, err := w.j.Rebase(context.Background(), cp); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cp.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/100, "µs/write")
}
