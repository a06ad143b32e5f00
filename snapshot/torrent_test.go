package snapshot

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestPieceLengthRule(t *testing.T) {
	const MiB, GiB = 1 << 20, 1 << 30
	for _, tc := range []struct {
		length, want int64
	}{
		{1, 16 << 10},
		{1 * MiB, 16 << 10},             // 64 pieces
		{100 * MiB, 16 << 10},           // 6400 pieces
		{128 * MiB, 16 << 10},           // exactly 8192 pieces
		{128*MiB + 1, 32 << 10},         // 8193 would be one too many
		{256 * MiB, 32 << 10},           // 8192 pieces
		{1 * GiB, 128 << 10},            // 8192 pieces
		{128 * GiB, MaxPieceLength},     // 8192 pieces of 16 MiB
		{1024 * GiB, MaxPieceLength},    // capped: 65536 pieces
		{1000 * 1000, 16 << 10},         // 1 MB: 62 pieces
		{100 * 1000 * 1000, 16 << 10},   // 100 MB: 6104 pieces
		{1000 * 1000 * 1000, 128 << 10}, // 1 GB: 7630 pieces
	} {
		got := PieceLength(tc.length)
		if got != tc.want {
			t.Errorf("PieceLength(%d) = %d, want %d", tc.length, got, tc.want)
		}
		if n := numPieces(tc.length, got); got < MaxPieceLength && n > TargetMaxPieces {
			t.Errorf("PieceLength(%d): %d pieces", tc.length, n)
		}
	}
}

// TestGoldenInfoHash pins the infohash of a small fixed file: a change in
// the rule, the encoding or the library would change every snapshot's
// infohash, and this test says so.
func TestGoldenInfoHash(t *testing.T) {
	path := filepath.Join("testdata", "golden.bin")
	info, err := NewInfo(context.Background(), path, "golden.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	b, err := InfoBytes(info)
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := "d6:lengthi"
	if !strings.HasPrefix(string(b), wantPrefix) || !strings.Contains(string(b), "4:name13:golden.sqlite12:piece lengthi16384e6:pieces") {
		t.Fatalf("info bytes not the four keys in order: %q", b[:60])
	}
	var keys map[string]bencode.Bytes
	if err := bencode.Unmarshal(b, &keys); err != nil || len(keys) != 4 {
		t.Fatalf("info has %d keys (%v)", len(keys), err)
	}
	ih, err := InfoHash(info)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "golden.infohash")
	if *update {
		if err := os.WriteFile(golden, []byte(ih.HexString()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := ih.HexString(); got != strings.TrimSpace(string(want)) {
		t.Fatalf("infohash %s, want %s", got, want)
	}
}

// TestHashPiecesMatchesSerial checks the parallel hasher against a plain
// loop, on sizes around piece and batch boundaries.
func TestHashPiecesMatchesSerial(t *testing.T) {
	data := make([]byte, 3<<20+12345)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	for _, size := range []int{1, 16383, 16384, 16385, 1 << 20, 1<<20 + 1, len(data)} {
		for _, pl := range []int64{16 << 10, 1 << 20, 4 << 20} {
			got, err := HashPieces(context.Background(), bytes.NewReader(data), int64(size), pl)
			if err != nil {
				t.Fatal(err)
			}
			var want []byte
			for off := 0; off < size; off += int(pl) {
				s := sha1.Sum(data[off:min(off+int(pl), size)])
				want = append(want, s[:]...)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("size %d piece %d: hashes differ", size, pl)
			}
		}
	}
	if _, err := HashPieces(context.Background(), bytes.NewReader(data[:10]), 100, 16<<10); err == nil {
		t.Fatal("short reader: no error")
	}
}

func TestHashPiecesCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := make([]byte, 8<<20)
	if _, err := HashPieces(ctx, bytes.NewReader(data), int64(len(data)), 16<<10); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
