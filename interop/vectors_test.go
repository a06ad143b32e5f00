package interop

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dhtdb/dhtdb/dht"
)

// specSecretKey is the private key of the BEP 44 test vectors, in the
// expanded 64-byte form the spec gives (libtorrent's form). Go's
// crypto/ed25519 cannot sign with it; libtorrent can, so libtorrent signs
// the vectors here and our node verifies and serves them.
const specSecretKey = "e06d3183d14159228433ed599221b80bd0a5ce8352e4bdf0262f76786ef1c74d" +
	"b7e7a9fea2c0eb269d61e3b38e450a22e754941ac78479d6c54e1faf6037881d"

// vector is one line of bep44/testdata/vectors.txt (the DHT-NODE package's
// copy of the spec's vectors, shared here so there is one source).
type vector struct {
	name, salt string
	seq        int64
	v          []byte
	pub        []byte
	target     []byte
	sig        []byte
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "bep44", "testdata", "vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		fs := strings.Split(line, "|")
		if len(fs) < 7 {
			t.Fatalf("vectors.txt: bad line %q", line)
		}
		for i := range fs {
			fs[i] = strings.TrimSpace(fs[i])
		}
		vec := vector{name: fs[0], salt: fs[1], v: []byte(fs[3])}
		if fs[2] != "" {
			if vec.seq, err = strconv.ParseInt(fs[2], 10, 64); err != nil {
				t.Fatalf("vectors.txt %s: seq: %v", vec.name, err)
			}
		}
		for _, h := range []struct {
			dst *[]byte
			s   string
		}{{&vec.pub, fs[4]}, {&vec.target, fs[5]}, {&vec.sig, fs[6]}} {
			if *h.dst, err = hex.DecodeString(h.s); err != nil {
				t.Fatalf("vectors.txt %s: %v", vec.name, err)
			}
		}
		out = append(out, vec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("vectors.txt: no vectors")
	}
	return out
}

// TestSpecVectorsThroughLibtorrent: libtorrent puts each BEP 44 test vector
// (signing the mutable ones with the spec's key), its signatures equal the
// spec's, and our nodes store them and our Get returns them verified, with
// the spec's targets.
func TestSpecVectorsThroughLibtorrent(t *testing.T) {
	ctx := testCtx(t)
	ours, lts := mixedNet(t, 3, 2)
	sk, err := hex.DecodeString(specSecretKey)
	if err != nil {
		t.Fatal(err)
	}

	for _, vec := range readVectors(t) {
		t.Run(vec.name, func(t *testing.T) {
			req := dht.GetRequest{Target: [20]byte(vec.target)}
			if len(vec.pub) == 0 {
				res, err := lts[0].PutImmutable(ctx, vec.v)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(res.Target[:], vec.target) {
					t.Errorf("libtorrent target %x, spec %x", res.Target, vec.target)
				}
			} else {
				// libtorrent stores v as a string and chooses seq = found + 1;
				// the vectors are seq 1 of a string, so a fresh key fits.
				data, ok := byteString(vec.v)
				if !ok || vec.seq != 1 {
					t.Skipf("vector %s is not seq 1 of a byte string; libtorrent cannot put it", vec.name)
				}
				res, err := lts[0].PutMutableExpanded(ctx, [64]byte(sk), [32]byte(vec.pub), []byte(vec.salt), data)
				if err != nil {
					t.Fatal(err)
				}
				if res.Seq != vec.seq || !bytes.Equal(res.Sig[:], vec.sig) || !bytes.Equal(res.Target[:], vec.target) {
					t.Errorf("libtorrent put seq %d sig %x target %x; spec seq %d sig %x target %x",
						res.Seq, res.Sig, res.Target, vec.seq, vec.sig, vec.target)
				}
				req = dht.GetRequest{PublicKey: vec.pub, Salt: []byte(vec.salt)}
			}
			got, err := ours[len(ours)-1].Get(ctx, req)
			if err != nil {
				t.Fatalf("our get: %v", err)
			}
			it := got.Item
			if tg := it.Target(); !bytes.Equal(tg[:], vec.target) || !bytes.Equal(it.V, vec.v) {
				t.Errorf("our get: target %x v %q; spec %x %q", tg, it.V, vec.target, vec.v)
			}
			if len(vec.pub) > 0 && (it.Seq != vec.seq || !bytes.Equal(it.Sig[:], vec.sig) || !bytes.Equal(it.K[:], vec.pub)) {
				t.Errorf("our get: seq %d sig %x k %x; spec %d %x %x", it.Seq, it.Sig, it.K, vec.seq, vec.sig, vec.pub)
			}
			if err := it.Verify(); err != nil {
				t.Errorf("verify: %v", err)
			}
		})
	}
}

// byteString returns the content of a bencoded byte string.
func byteString(b []byte) ([]byte, bool) {
	n, rest, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		return nil, false
	}
	l, err := strconv.Atoi(string(n))
	return rest, err == nil && l == len(rest)
}
