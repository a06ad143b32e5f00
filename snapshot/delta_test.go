package snapshot

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/anacrolix/torrent/metainfo"
)

// version snapshots src into dir/name and returns its path and info.
func version(t *testing.T, src, dir, name string) (string, metainfo.Info) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := Create(context.Background(), src, p); err != nil {
		t.Fatal(err)
	}
	info, err := NewInfo(context.Background(), p, "db.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	return p, info
}

// fill writes the missing pieces of a into its file from the complete
// file at from, the way a downloader would.
func fill(t *testing.T, a *Assembly, info metainfo.Info, from string) {
	t.Helper()
	src, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(a.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, i := range a.Missing {
		off, n := pieceSpan(info, i)
		if _, err := f.WriteAt(src[off:off+n], off); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeltaRowChanges measures how many pieces each change moves on a
// ~13 MB database (each version against the one before), and rebuilds
// the new version from the old file plus the fetched pieces.
func TestDeltaRowChanges(t *testing.T) {
	dir := t.TempDir()
	src := makeDB(t, dir, true, 30000, 400)
	oldPath, oldInfo := version(t, src, dir, "v1")
	firstPath, firstInfo := oldPath, oldInfo
	ctx := context.Background()

	for _, tc := range []struct {
		name      string
		sql       string
		maxPieces int
	}{
		// One leaf page and page 1 (change counter); a few for slack.
		{"1 row", "UPDATE t SET body = 'one row changed' WHERE id = 12345", 4},
		// 1000 rows spread over the table (every 30th): one leaf page in
		// three, so nearly every 4-page piece.
		{"1000 rows spread", "UPDATE t SET body = upper(body) WHERE id % 30 = 0", 0},
		// 1000 consecutive rows: ~10% of the leaf pages.
		{"1000 rows contiguous", "UPDATE t SET body = upper(body) WHERE id BETWEEN 5000 AND 5999", 0},
		{"1 row inserted", "INSERT INTO t (id, body) VALUES (1000000, 'new row')", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := openDB(t, src, true)
			exec(t, c, tc.sql)
			c.Close()
			newPath, newInfo := version(t, src, dir, "v-"+tc.name)
			plan, err := PlanDelta(oldInfo, newInfo)
			if err != nil {
				t.Fatal(err)
			}
			n := newInfo.NumPieces()
			if len(plan.Copies)+len(plan.Fetch) != n {
				t.Fatalf("plan covers %d+%d of %d pieces", len(plan.Copies), len(plan.Fetch), n)
			}
			fetch := plan.FetchBytes(newInfo)
			meta, _ := InfoBytes(newInfo)
			t.Logf("%s: %d bytes, %d pieces of %d KiB; fetch %d pieces = %d bytes (%.3f%%), with metadata %d bytes (%.3f%%)",
				tc.name, newInfo.Length, n, newInfo.PieceLength>>10, len(plan.Fetch), fetch,
				100*float64(fetch)/float64(newInfo.Length), fetch+int64(len(meta)),
				100*float64(fetch+int64(len(meta)))/float64(newInfo.Length))
			if tc.maxPieces > 0 && len(plan.Fetch) > tc.maxPieces {
				t.Errorf("fetch %d pieces, want at most %d", len(plan.Fetch), tc.maxPieces)
			}
			if len(plan.Fetch) == 0 {
				t.Errorf("fetch nothing: the change is invisible")
			}

			a, err := Assemble(ctx, oldPath, oldInfo, newInfo, plan, "")
			if err != nil {
				t.Fatal(err)
			}
			defer os.Remove(a.Path)
			if filepath.Dir(a.Path) != dir {
				t.Fatalf("assembled in %s, not beside the old file", a.Path)
			}
			if len(a.Corrupt) != 0 || !equalInts(a.Missing, plan.Fetch) {
				t.Fatalf("missing %v corrupt %v, want missing %v", a.Missing, a.Corrupt, plan.Fetch)
			}
			fill(t, a, newInfo, newPath)
			if bad, err := VerifyFile(ctx, a.Path, newInfo); err != nil || len(bad) != 0 {
				t.Fatalf("assembled file: bad pieces %v, %v", bad, err)
			}
			if err := Check(ctx, a.Path); err != nil {
				t.Fatal(err)
			}
			// The next change is measured from this version.
			oldPath, oldInfo = newPath, newInfo
		})
	}
	// The old files were only read.
	if bad, err := VerifyFile(ctx, firstPath, firstInfo); err != nil || len(bad) != 0 {
		t.Fatalf("old file changed: bad pieces %v, %v", bad, err)
	}
}

// TestAssembleCorruptOld: a damaged local old file costs a download, not
// a wrong piece.
func TestAssembleCorruptOld(t *testing.T) {
	dir := t.TempDir()
	src := makeDB(t, dir, false, 3000, 200)
	oldPath, oldInfo := version(t, src, dir, "v1")
	c := openDB(t, src, false)
	exec(t, c, "UPDATE t SET body = 'x' WHERE id = 7")
	c.Close()
	newPath, newInfo := version(t, src, dir, "v2")
	plan, err := PlanDelta(oldInfo, newInfo)
	if err != nil {
		t.Fatal(err)
	}
	victim := plan.Copies[len(plan.Copies)/2]
	f, err := os.OpenFile(oldPath, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := pieceSpan(oldInfo, victim.Old)
	f.WriteAt([]byte("bit rot"), off+100)
	f.Close()

	a, err := Assemble(context.Background(), oldPath, oldInfo, newInfo, plan, "")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(a.Path)
	if !equalInts(a.Corrupt, []int{victim.New}) || a.Have[victim.New] {
		t.Fatalf("corrupt %v, want [%d]", a.Corrupt, victim.New)
	}
	if len(a.Missing) != len(plan.Fetch)+1 {
		t.Fatalf("missing %v, want the plan's %v plus %d", a.Missing, plan.Fetch, victim.New)
	}
	fill(t, a, newInfo, newPath)
	if bad, err := VerifyFile(context.Background(), a.Path, newInfo); err != nil || len(bad) != 0 {
		t.Fatalf("bad pieces %v, %v", bad, err)
	}
}

// synthInfo builds an info from explicit piece contents.
func synthInfo(pieceLength int64, pieces ...[]byte) metainfo.Info {
	info := metainfo.Info{Name: "x", PieceLength: pieceLength}
	for _, p := range pieces {
		s := sha1.Sum(p)
		info.Pieces = append(info.Pieces, s[:]...)
		info.Length += int64(len(p))
	}
	return info
}

func TestPlanDeltaMovedAndShort(t *testing.T) {
	p := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	old := synthInfo(4, p('a', 4), p('b', 4), p('c', 4), p('d', 2))
	// b and a swapped, c kept, a new piece, and old's short tail now full.
	new := synthInfo(4, p('b', 4), p('a', 4), p('c', 4), p('e', 4), p('d', 2))
	plan, err := PlanDelta(old, new)
	if err != nil {
		t.Fatal(err)
	}
	want := []Copy{{0, 1}, {1, 0}, {2, 2}, {4, 3}}
	if len(plan.Copies) != len(want) || !equalInts(plan.Fetch, []int{3}) {
		t.Fatalf("copies %v fetch %v", plan.Copies, plan.Fetch)
	}
	for i := range want {
		if plan.Copies[i] != want[i] {
			t.Fatalf("copies %v, want %v", plan.Copies, want)
		}
	}
	// A short piece never matches a full one with the same prefix.
	shortOld := synthInfo(4, p('a', 4), p('d', 2))
	fullNew := synthInfo(4, p('d', 2), p('a', 4))
	if plan, _ := PlanDelta(shortOld, fullNew); len(plan.Copies) != 0 {
		t.Fatalf("short/full mix copied: %v", plan.Copies)
	}
	// Different piece lengths share nothing.
	plan, err = PlanDelta(old, synthInfo(8, p('a', 8)))
	if err != nil || plan.SamePieceLength || len(plan.Fetch) != 1 || len(plan.Copies) != 0 {
		t.Fatalf("different piece length: %+v %v", plan, err)
	}
	bad := old
	bad.Pieces = bad.Pieces[:30]
	if _, err := PlanDelta(bad, new); !errors.Is(err, ErrBadInfo) {
		t.Fatalf("inconsistent info: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
