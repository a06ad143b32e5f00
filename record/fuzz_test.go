package record

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/anacrolix/torrent/bencode"
)

// FuzzDecodeRecord: Decode never panics, fails only with its sentinels, and
// what it accepts re-encodes to the same bytes when t and size are present
// (Encode always writes them) — the decoder is exactly as strict as the
// encoder.
func FuzzDecodeRecord(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.bencode"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("d2:ih20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add([]byte("d2:ih20:aaaaaaaaaaaaaaaaaaaa4:prevl20:bbbbbbbbbbbbbbbbbbbbe4:sizei1e1:ti2ee"))
	f.Add([]byte("d1:ai-1e2:ih20:aaaaaaaaaaaaaaaaaaaa2:roi1e4:sizei0e1:ti0ee"))
	f.Add([]byte("d3:enc3:abc2:ih20:aaaaaaaaaaaaaaaaaaaae"))
	f.Add([]byte("le"))
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := Decode(v)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooBig) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		again, err := r.Encode()
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", v, err)
		}
		r2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoding %q does not decode: %v", again, err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("decode(encode(r)) != r:\n%+v\n%+v", r, r2)
		}
		var dict map[string]bencode.Bytes
		if err := bencode.Unmarshal(v, &dict); err != nil {
			t.Fatalf("Decode accepted what bencode rejects: %v", err)
		}
		_, hasT := dict["t"]
		_, hasSize := dict["size"]
		if hasT && hasSize && !bytes.Equal(again, v) {
			t.Fatalf("decode/encode not identical:\n in %q\nout %q", v, again)
		}
	})
}

// FuzzParseAddress: ParseAddress never panics, fails only with
// ErrBadAddress, and an address it accepts prints to both text forms that
// parse back to it.
func FuzzParseAddress(f *testing.F) {
	key := "8a1b2c3d000000000000000000000000000000000000000000000000000000ff"
	f.Add("dhtdb://" + key + "/db")
	f.Add("dhtdb://" + key + "/a%20b%2Fc")
	f.Add("magnet:?xs=urn:btpk:" + key + "&s=6162")
	f.Add("magnet:?dn=x&s=61&xs=urn:btpk:" + key + "&tr=udp://t")
	f.Add("dhtdb://zz/")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrBadAddress) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if err := CheckName(a.Name); err != nil {
			t.Fatalf("accepted a bad name %q: %v", a.Name, err)
		}
		for _, text := range []string{a.String(), a.Magnet()} {
			b, err := ParseAddress(text)
			if err != nil || b != a {
				t.Fatalf("%q → %+v → %q → %+v, %v", s, a, text, b, err)
			}
		}
	})
}
