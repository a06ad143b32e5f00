package versions

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"github.com/dhtdb/dhtdb/snapshot"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/dhtdb/dhtdb/clock"
)

// newFile writes a distinct file for version n beside the store and
// returns its path and info.
func newFile(t *testing.T, s *Store, n int) (string, metainfo.Info) {
	t.Helper()
	f, err := os.CreateTemp(s.Dir(), tempPattern)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(fmt.Sprintf("version %d", n))
	f.Close()
	info, err := snapshot.NewInfo(context.Background(), f.Name(), "db.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	return f.Name(), info
}

func hashOf(t *testing.T, info metainfo.Info) metainfo.Hash {
	t.Helper()
	ih, err := snapshot.InfoHash(info)
	if err != nil {
		t.Fatal(err)
	}
	return ih
}

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, Clock: clock.NewFake(time.Unix(1_700_000_000, 0))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seqs(vs []Version) []int64 {
	var out []int64
	for _, v := range vs {
		out = append(out, v.Seq)
	}
	return out
}

func TestStoreKeepsFiveNewest(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	hashes := map[int64]metainfo.Hash{}
	for n := 1; n <= 7; n++ {
		p, ihInfo := newFile(t, s, n)
		ih := hashOf(t, ihInfo)
		hashes[int64(n)] = ih
		v, removed, err := s.Add(p, ihInfo, int64(n))
		if err != nil {
			t.Fatal(err)
		}
		if v.Path != filepath.Join(dir, ih.HexString()) {
			t.Fatalf("stored at %s", v.Path)
		}
		if want := max(0, n-DefaultKeep); n > DefaultKeep && (len(removed) != 1 || removed[0].Seq != int64(want)) {
			t.Fatalf("add %d removed %v", n, seqs(removed))
		}
	}
	if got := fmt.Sprint(seqs(s.List())); got != "[7 6 5 4 3]" {
		t.Fatalf("list %s", got)
	}
	for n := int64(1); n <= 2; n++ {
		if _, err := os.Stat(filepath.Join(dir, hashes[n].HexString())); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("version %d still on disk", n)
		}
		if _, err := s.Get(hashes[n]); !errors.Is(err, ErrNotFound) {
			t.Fatalf("version %d: %v", n, err)
		}
	}
	// Reopening gives the same list.
	if got := fmt.Sprint(seqs(openStore(t, dir).List())); got != "[7 6 5 4 3]" {
		t.Fatalf("after reopen %s", got)
	}
	if _, _, err := s.Add("x", metainfo.Info{}, 0); !errors.Is(err, ErrBadSeq) {
		t.Fatalf("seq 0: %v", err)
	}
}

func TestStoreHeldVersionSurvives(t *testing.T) {
	s := openStore(t, t.TempDir())
	p, firstInfo := newFile(t, s, 1)
	first := hashOf(t, firstInfo)
	if _, _, err := s.Add(p, firstInfo, 1); err != nil {
		t.Fatal(err)
	}
	release, err := s.Acquire(first)
	if err != nil {
		t.Fatal(err)
	}
	for n := 2; n <= 8; n++ {
		p, info := newFile(t, s, n)
		if _, _, err := s.Add(p, info, int64(n)); err != nil {
			t.Fatal(err)
		}
	}
	// 8..4 are the five newest; 1 is held, so kept too.
	if got := fmt.Sprint(seqs(s.List())); got != "[8 7 6 5 4 1]" {
		t.Fatalf("list %s", got)
	}
	v, err := s.Get(first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(v.Path); err != nil {
		t.Fatalf("held version deleted: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	release() // a second call does nothing
	if _, err := os.Stat(v.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("released old version not deleted")
	}
	if got := fmt.Sprint(seqs(s.List())); got != "[8 7 6 5 4]" {
		t.Fatalf("list %s", got)
	}
	if _, err := s.Acquire(first); !errors.Is(err, ErrNotFound) {
		t.Fatalf("acquire deleted version: %v", err)
	}
}

func TestStoreReAddSameVersion(t *testing.T) {
	s := openStore(t, t.TempDir())
	p, ihInfo := newFile(t, s, 1)
	ih := hashOf(t, ihInfo)
	if _, _, err := s.Add(p, ihInfo, 3); err != nil {
		t.Fatal(err)
	}
	p2, ih2Info := newFile(t, s, 1)
	ih2 := hashOf(t, ih2Info) // same bytes, republished at a higher seq
	if ih2 != ih {
		t.Fatal("test setup")
	}
	v, _, err := s.Add(p2, ihInfo, 9)
	if err != nil {
		t.Fatal(err)
	}
	if v.Seq != 9 || len(s.List()) != 1 {
		t.Fatalf("version %+v, list %v", v, seqs(s.List()))
	}
	if _, err := os.Stat(p2); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("duplicate source file left behind")
	}
	// Adding the stored file itself changes nothing and deletes nothing.
	if _, _, err := s.Add(v.Path, ih2Info, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(v.Path); err != nil {
		t.Fatalf("stored file deleted: %v", err)
	}
}

// TestStoreOpenCleansCrashLeftovers: what an interrupted Add or prune
// leaves (temp files, unlisted version files, listed but missing files)
// is cleaned up by Open.
func TestStoreOpenCleansCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	p, ihInfo := newFile(t, s, 1)
	ih := hashOf(t, ihInfo)
	if _, _, err := s.Add(p, ihInfo, 1); err != nil {
		t.Fatal(err)
	}
	p2, ih2Info := newFile(t, s, 2)
	ih2 := hashOf(t, ih2Info)
	if _, _, err := s.Add(p2, ih2Info, 2); err != nil {
		t.Fatal(err)
	}
	// A crash after the rename, before the manifest write:
	orphan := filepath.Join(dir, metainfo.Hash(sha1.Sum([]byte("orphan"))).HexString())
	os.WriteFile(orphan, []byte("orphan"), 0o644)
	os.WriteFile(orphan+infoSuffix, []byte("d4:name1:xe"), 0o644)
	// A temp file of an assembly or manifest write:
	tmp, _ := os.CreateTemp(dir, tempPattern)
	tmp.Close()
	// A listed file lost (deleted by hand, or a prune cut short): its
	// info file goes too.
	os.Remove(filepath.Join(dir, ih.HexString()))
	// Unrelated files are left alone.
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644)

	s2 := openStore(t, dir)
	if got := fmt.Sprint(seqs(s2.List())); got != "[2]" {
		t.Fatalf("list %s", got)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := fmt.Sprint([]string{ih2.HexString(), ih2.HexString() + infoSuffix, "notes.txt", manifestName}); fmt.Sprint(names) != want {
		t.Fatalf("files %v, want %v", names, want)
	}
}

func TestStoreConfig(t *testing.T) {
	if _, err := Open(Config{}); err == nil {
		t.Fatal("no dir accepted")
	}
	if _, err := Open(Config{Dir: t.TempDir(), Keep: -1}); err == nil {
		t.Fatal("negative keep accepted")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, manifestName), []byte("{not json"), 0o644)
	if _, err := Open(Config{Dir: dir}); err == nil {
		t.Fatal("broken manifest accepted")
	}
}
