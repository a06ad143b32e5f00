package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"

	"zombiezen.com/go/sqlite"
	"zombiezen.com/go/sqlite/sqlitex"
)

// makeSyncDB creates a database of about size bytes of random rows
// (SQLite's randomblob: the content does not matter, only that it does not
// repeat).
func makeSyncDB(ctx context.Context, path string, size int64) error {
	os.Remove(path)
	c, err := sqlite.OpenConn(path, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetInterrupt(ctx.Done())
	rows := size / (syncRowBytes + 120)
	q := fmt.Sprintf(`CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d)
INSERT INTO t (id, body) SELECT x, randomblob(%d) FROM c;`, rows, syncRowBytes)
	if err := sqlitex.ExecuteScript(c, q, nil); err != nil {
		return fmt.Errorf("make database: %w", err)
	}
	return nil
}

func countRows(path string) (int64, error) {
	c, err := sqlite.OpenConn(path, sqlite.OpenReadOnly)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var n int64
	err = sqlitex.Execute(c, "SELECT max(id) FROM t", &sqlitex.ExecOptions{
		ResultFunc: func(s *sqlite.Stmt) error { n = s.ColumnInt64(0); return nil }})
	return n, err
}

// changeRows rewrites n distinct random rows with new random bodies of the
// same size, in one transaction.
func changeRows(ctx context.Context, path string, rng *rand.Rand, rows int64, n int) error {
	c, err := sqlite.OpenConn(path, sqlite.OpenReadWrite)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetInterrupt(ctx.Done())
	if err := sqlitex.Execute(c, "BEGIN", nil); err != nil {
		return err
	}
	seen := make(map[int64]bool, n)
	for len(seen) < n && int64(len(seen)) < rows {
		id := 1 + rng.Int64N(rows)
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := sqlitex.Execute(c, "UPDATE t SET body = randomblob(?) WHERE id = ?",
			&sqlitex.ExecOptions{Args: []any{syncRowBytes, id}}); err != nil {
			return err
		}
	}
	return sqlitex.Execute(c, "COMMIT", nil)
}

// ParseSize parses a size such as "256MB", "100MiB", "1G" or "4096" (bytes).
// MB and MiB both mean 2^20 bytes.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10},
		{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("size: want a positive number with an optional unit (KB, MB, GB)")
	}
	return int64(n * float64(mult)), nil
}

func sizeString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
