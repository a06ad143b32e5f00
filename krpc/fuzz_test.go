package krpc

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary packets to Decode: it must never panic, and a
// message it accepts must encode again and decode to the same BEP 44 value.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"))
	f.Add([]byte("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		out, err := m.Encode()
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n%q", err, out)
		}
		if m.A != nil && !bytes.Equal(m.A.V, m2.A.V) {
			t.Fatalf("args v changed: %q -> %q", m.A.V, m2.A.V)
		}
		if m.R != nil && !bytes.Equal(m.R.V, m2.R.V) {
			t.Fatalf("return v changed: %q -> %q", m.R.V, m2.R.V)
		}
	})
}

// TestFuzzSeedsDecode checks that every packet of the seed corpus is a valid
// message, so the fuzzer starts from real packets rather than rejects.
func TestFuzzSeedsDecode(t *testing.T) {
	files, err := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	if err != nil || len(files) < 5 {
		t.Fatalf("seed corpus: %v files, err %v", len(files), err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		lit := strings.TrimSuffix(strings.TrimPrefix(lines[len(lines)-1], "[]byte("), ")")
		pkt, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := Decode([]byte(pkt)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
