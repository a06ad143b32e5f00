package snapshot

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// goodSnapshot returns a valid snapshot file in dir and its bytes.
func goodSnapshot(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	src := makeDB(t, dir, true, 2000, 300)
	snap := filepath.Join(dir, "good.snap")
	if err := Create(context.Background(), src, snap); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	return snap, b
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good, b := goodSnapshot(t, dir)
	if err := Check(context.Background(), good); err != nil {
		t.Fatalf("valid snapshot: %v", err)
	}
	pageSize := int(binary.BigEndian.Uint16(b[16:18]))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), b...)) }

	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotSQLite},
		{"text", []byte("hello, this is not a database at all, not even close to one. " +
			"it is long enough to have a header's worth of bytes in it, though......"), ErrNotSQLite},
		{"header only", b[:100], ErrCorrupt},
		{"short header", b[:50], ErrNotSQLite},
		{"truncated at a page", b[:len(b)/2/pageSize*pageSize], ErrCorrupt},
		{"truncated mid-page", b[:len(b)/2+123], ErrCorrupt},
		{"wal header", mutate(func(b []byte) []byte { b[18], b[19] = 2, 2; return b }), ErrCorrupt},
		{"bad page size", mutate(func(b []byte) []byte { b[16], b[17] = 0x03, 0x00; return b }), ErrCorrupt},
		{"zeroed pages", mutate(func(b []byte) []byte {
			clear(b[3*pageSize : 9*pageSize])
			return b
		}), ErrCorrupt},
		{"garbage pages", mutate(func(b []byte) []byte {
			for i := 2 * pageSize; i < len(b)-pageSize; i += 97 {
				b[i] ^= 0x5a
			}
			return b
		}), ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "case.db")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			err := Check(context.Background(), p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			t.Logf("%v", err)
		})
	}
	// A path SQLite would misread as URI syntax if it were not escaped.
	odd := filepath.Join(dir, "a b?c#d%20e")
	os.Mkdir(odd, 0o755)
	if err := os.WriteFile(filepath.Join(odd, "x.db"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Check(context.Background(), filepath.Join(odd, "x.db")); err != nil {
		t.Fatalf("odd path: %v", err)
	}
	if err := Check(context.Background(), dir); !errors.Is(err, ErrNotSQLite) {
		t.Fatalf("directory: %v", err)
	}
	if err := Check(context.Background(), filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
