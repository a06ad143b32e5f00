package bep44

import (
	"bufio"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

type vector struct {
	name, salt, seq, v, pub, target, sig, buffer string
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p := strings.Split(line, "|")
		if len(p) != 8 {
			t.Fatalf("bad vector line %q", line)
		}
		for i := range p {
			p[i] = strings.TrimSpace(p[i])
		}
		out = append(out, vector{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]})
	}
	if len(out) != 3 {
		t.Fatalf("got %d vectors, want 3", len(out))
	}
	return out
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSpecVectors(t *testing.T) {
	for _, vec := range loadVectors(t) {
		t.Run(vec.name, func(t *testing.T) {
			it := Item{V: []byte(vec.v)}
			if vec.pub != "" {
				it.Mutable = true
				copy(it.K[:], unhex(t, vec.pub))
				copy(it.Sig[:], unhex(t, vec.sig))
				it.Salt = []byte(vec.salt)
				seq, err := strconv.ParseInt(vec.seq, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				it.Seq = seq
				if got := string(SignatureBuffer(it.Salt, it.Seq, it.V)); got != vec.buffer {
					t.Errorf("signature buffer %q, want %q", got, vec.buffer)
				}
			}
			if got := hex.EncodeToString(func() []byte { x := it.Target(); return x[:] }()); got != vec.target {
				t.Errorf("target %s, want %s", got, vec.target)
			}
			if err := it.Verify(); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if it.Mutable {
				forged := it
				forged.Seq++
				if err := forged.Verify(); !errors.Is(err, ErrBadSignature) {
					t.Errorf("Verify of seq+1: %v, want ErrBadSignature", err)
				}
			}
		})
	}
}

func TestNewMutableSignsAndVerifies(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	it, err := NewMutable(priv, []byte("db"), 7, []byte("d2:ih20:aaaaaaaaaaaaaaaaaaaae"))
	if err != nil {
		t.Fatal(err)
	}
	if err := it.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if it.Target() != MutableTarget(it.K, []byte("db")) {
		t.Error("target mismatch")
	}
	it.V = []byte("d2:ih20:bbbbbbbbbbbbbbbbbbbbe")
	if err := it.Verify(); !errors.Is(err, ErrBadSignature) {
		t.Errorf("changed v: %v, want ErrBadSignature", err)
	}
}

func TestLimits(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	big := []byte("996:" + strings.Repeat("x", 996)) // 1000 bytes: the limit
	if _, err := NewImmutable(big); err != nil {
		t.Errorf("1000-byte value: %v", err)
	}
	tooBig := []byte("997:" + strings.Repeat("x", 997))
	if _, err := NewImmutable(tooBig); !errors.Is(err, ErrTooBig) || Code(err) != CodeTooBig {
		t.Errorf("1001-byte value: %v", err)
	}
	if _, err := NewMutable(priv, make([]byte, 65), 1, []byte("1:x")); !errors.Is(err, ErrSaltTooBig) || Code(err) != CodeSaltTooBig {
		t.Errorf("65-byte salt: %v", err)
	}
	if _, err := NewMutable(priv, make([]byte, 64), 1, []byte("1:x")); err != nil {
		t.Errorf("64-byte salt: %v", err)
	}
	for _, bad := range []string{"", "5:abc", "i01e", "d1:b0:1:a0:e", "1:xtrailing"} {
		if _, err := NewImmutable([]byte(bad)); !errors.Is(err, ErrBadValue) {
			t.Errorf("NewImmutable(%q): %v, want ErrBadValue", bad, err)
		}
	}
	if _, err := NewMutable(priv[:10], nil, 1, []byte("1:x")); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: %v", err)
	}
}
