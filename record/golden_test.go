package record

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenRecords are the vectors in testdata: NAME.bencode holds the encoding,
// NAME.json the decoded record.
func goldenRecords() map[string]Record {
	t0 := time.Unix(1764064800, 0)
	first := Next(Record{}, hash(0x11), 8192, t0)
	full := first
	for i := byte(0x22); i <= 0x66; i += 0x11 {
		full = Next(full, hash(i), int64(i)*4096, t0.Add(time.Duration(i)*time.Minute))
	}
	full.ReadOnly = true
	full.NextKey = bytes.Repeat([]byte{0x77}, 32)
	full.Enc = "age-x25519:4f2a"
	full.Unknown = map[string]bencode.Bytes{
		"x-note": bencode.MustMarshal("kept verbatim"),
		"x-list": bencode.Bytes("li1e3:twoe"),
	}
	return map[string]Record{"first": first, "full": full}
}

func TestGolden(t *testing.T) {
	for name, r := range goldenRecords() {
		v, err := r.Encode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		js, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		js = append(js, '\n')
		bpath := filepath.Join("testdata", name+".bencode")
		jpath := filepath.Join("testdata", name+".json")
		if *update {
			if err := os.WriteFile(bpath, v, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(jpath, js, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		wantV, err := os.ReadFile(bpath)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		wantJS, err := os.ReadFile(jpath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(v, wantV) {
			t.Errorf("%s: encoding changed:\n got %q\nwant %q", name, v, wantV)
		}
		dec, err := Decode(wantV)
		if err != nil {
			t.Fatalf("%s: decode golden: %v", name, err)
		}
		decJS, _ := json.MarshalIndent(dec, "", "  ")
		if !bytes.Equal(append(decJS, '\n'), wantJS) {
			t.Errorf("%s: decoded golden differs from %s:\n%s", name, jpath, decJS)
		}
		var fromJS Record
		if err := json.Unmarshal(wantJS, &fromJS); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if again, err := fromJS.Encode(); err != nil || !bytes.Equal(again, wantV) {
			t.Errorf("%s: JSON → record → bencode differs (%v)", name, err)
		}
	}
}
