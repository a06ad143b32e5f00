package snapshot

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// goldenInfo is the info of testdata/golden.bin named golden.sqlite.
func goldenInfo(t testing.TB) metainfo.Info {
	t.Helper()
	info, err := NewInfo(context.Background(), filepath.Join("testdata", "golden.bin"), "golden.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func TestValidateInfo(t *testing.T) {
	good := goldenInfo(t)
	exp := Expect{Name: "golden.sqlite"}
	if err := ValidateInfo(good, exp); err != nil {
		t.Fatalf("good info: %v", err)
	}
	yes := true
	for _, tc := range []struct {
		name string
		edit func(i *metainfo.Info)
		exp  Expect
		want error
	}{
		{"multi-file", func(i *metainfo.Info) {
			i.Length = 0
			i.Files = []metainfo.FileInfo{{Length: 20000, Path: []string{"a"}}, {Length: 20000, Path: []string{"b"}}}
		}, exp, ErrMultiFile},
		{"one file with path", func(i *metainfo.Info) {
			i.Length = 0
			i.Files = []metainfo.FileInfo{{Length: 40000, Path: []string{"dir", "db.sqlite"}}}
		}, exp, ErrPath},
		{"wrong name", func(i *metainfo.Info) { i.Name = "other.sqlite" }, exp, ErrName},
		{"slash in name", func(i *metainfo.Info) { i.Name = "../golden.sqlite" }, exp, ErrBadName},
		{"dotdot name", func(i *metainfo.Info) { i.Name = ".." }, Expect{Name: "x"}, ErrBadName},
		{"empty", func(i *metainfo.Info) { i.Length = 0; i.Pieces = nil }, exp, ErrEmpty},
		{"negative", func(i *metainfo.Info) { i.Length = -5 }, exp, ErrEmpty},
		{"too large", func(i *metainfo.Info) {}, Expect{Name: "golden.sqlite", MaxLength: 1000}, ErrTooLarge},
		{"other length", func(i *metainfo.Info) {}, Expect{Name: "golden.sqlite", Length: 4096}, ErrLength},
		{"piece length not the rule", func(i *metainfo.Info) { i.PieceLength = 32 << 10; i.Pieces = i.Pieces[:40] }, exp, ErrPieceLength},
		{"piece length zero", func(i *metainfo.Info) { i.PieceLength = 0 }, exp, ErrPieceLength},
		{"missing hash", func(i *metainfo.Info) { i.Pieces = i.Pieces[:40] }, exp, ErrPieces},
		{"extra hash", func(i *metainfo.Info) { i.Pieces = append(i.Pieces, i.Pieces[:20]...) }, exp, ErrPieces},
		{"ragged hash", func(i *metainfo.Info) { i.Pieces = i.Pieces[:59] }, exp, ErrPieces},
		{"private", func(i *metainfo.Info) { i.Private = &yes }, exp, ErrExtraKey},
		{"v2", func(i *metainfo.Info) { i.MetaVersion = 2 }, exp, ErrNotV1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := good
			info.Pieces = bytes.Clone(good.Pieces)
			tc.edit(&info)
			if err := ValidateInfo(info, tc.exp); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// The same through the wire form.
			b, err := bencode.Marshal(info)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ValidateInfoBytes(b, tc.exp); err == nil {
				t.Fatal("ValidateInfoBytes accepted it")
			}
		})
	}
	if err := ValidateInfo(good, Expect{}); !errors.Is(err, ErrBadName) {
		t.Fatalf("no expected name: %v", err)
	}
}

func TestValidateInfoBytes(t *testing.T) {
	good := goldenInfo(t)
	b, err := InfoBytes(good)
	if err != nil {
		t.Fatal(err)
	}
	exp := Expect{Name: "golden.sqlite"}
	got, err := ValidateInfoBytes(b, exp)
	if err != nil {
		t.Fatal(err)
	}
	if got.Length != good.Length || !bytes.Equal(got.Pieces, good.Pieces) {
		t.Fatal("decoded info differs")
	}
	s := string(b)
	for _, tc := range []struct {
		name, data string
		want       error
	}{
		{"not bencode", "hello", ErrMalformedInfo},
		{"truncated", s[:len(s)-5], ErrMalformedInfo},
		{"list", "li1ei2ee", ErrMalformedInfo},
		{"trailing bytes", s + "x", ErrMalformedInfo},
		{"extra key", strings.Replace(s, "4:name", "3:foo3:bar4:name", 1), ErrExtraKey},
		{"files key", strings.Replace(s, "6:lengthi40000e", "5:filesle6:lengthi40000e", 1), ErrMultiFile},
		{"unsorted keys", "d4:name13:golden.sqlite" + strings.Replace(s[1:], "4:name13:golden.sqlite", "", 1), ErrNotCanonical},
		{"leading zero", strings.Replace(s, "i40000e", "i040000e", 1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ValidateInfoBytes([]byte(tc.data), exp)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzValidateInfo feeds arbitrary bytes to ValidateInfoBytes: it must
// never panic, and whatever it accepts must be a well-formed snapshot
// info that encodes back to the same bytes.
func FuzzValidateInfo(f *testing.F) {
	good := goldenInfo(f)
	gb, _ := InfoBytes(good)
	f.Add(gb)
	f.Add([]byte("d6:lengthi1e4:name13:golden.sqlite12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add([]byte("d5:filesld6:lengthi1e4:pathl1:aeee4:name13:golden.sqlitee"))
	f.Add([]byte("de"))
	f.Add([]byte("i-0e"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ValidateInfoBytes(data, Expect{Name: "golden.sqlite"})
		if err != nil {
			return
		}
		if info.Length <= 0 || info.PieceLength != PieceLength(info.Length) ||
			int64(len(info.Pieces)) != 20*numPieces(info.Length, info.PieceLength) || len(info.Files) != 0 {
			t.Fatalf("accepted a bad info: %+v", info)
		}
		again, err := InfoBytes(info)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted bytes that do not re-encode: %q", data)
		}
		if _, err := PlanDelta(info, info); err != nil {
			t.Fatalf("accepted info unusable by PlanDelta: %v", err)
		}
	})
}
