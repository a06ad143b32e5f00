package dht

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/krpc"
)

// pickItem decides what a Get returns from the verified answers.
func TestPickItem(t *testing.T) {
	item := func(seq int64, v string, sig byte) getAnswer {
		it := bep44.Item{Mutable: true, Seq: seq, V: []byte(v)}
		it.Sig[0] = sig
		return getAnswer{item: it, hasValue: true}
	}
	claim := func(seq int64) getAnswer { return getAnswer{item: bep44.Item{Mutable: true, Seq: seq}} }
	addr := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1000+i))
	}
	type held struct {
		node    int
		closest bool
		ans     getAnswer
	}
	tests := []struct {
		name      string
		held      []held
		wantV     string // "" with wantSeq: a bare claim
		wantSeq   int64
		wantFound int
		wantNone  bool
	}{
		{"nothing", nil, "", 0, 0, true},
		{"highest seq wins even if rare and outside the closest", []held{
			{1, true, item(1, "1:a", 1)}, {2, true, item(1, "1:a", 1)}, {3, false, item(2, "1:b", 9)},
		}, "1:b", 2, 0, false},
		{"same seq: more closest holders win", []held{
			{1, true, item(3, "1:x", 1)}, {2, true, item(3, "1:y", 2)}, {3, true, item(3, "1:y", 2)},
			{4, false, item(3, "1:x", 1)}, {5, false, item(3, "1:x", 1)},
		}, "1:y", 3, 2, false},
		{"same seq, same support: smaller signature", []held{
			{1, true, item(3, "1:y", 2)}, {2, true, item(3, "1:x", 1)},
		}, "1:x", 3, 1, false},
		{"claims only: no value, found counts the claims among the closest", []held{
			{1, true, claim(4)}, {2, true, claim(4)}, {3, false, claim(4)},
		}, "", 4, 2, false},
		{"a value beats bare claims of its seq, which count as holding it", []held{
			{1, true, claim(4)}, {2, true, item(4, "1:z", 5)}, {3, true, claim(4)},
		}, "1:z", 4, 3, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			answers := map[netip.AddrPort]getAnswer{}
			closest := map[netip.AddrPort]bool{}
			for _, h := range tc.held {
				answers[addr(h.node)] = h.ans
				closest[addr(h.node)] = h.closest
			}
			// Map order is random: decide several times.
			for range 5 {
				it, found, ok := pickItem(answers, closest)
				if ok == tc.wantNone {
					t.Fatalf("ok = %v", ok)
				}
				if got := fmt.Sprintf("%s/%d/%d", it.V, it.Seq, found); ok && got != fmt.Sprintf("%s/%d/%d", tc.wantV, tc.wantSeq, tc.wantFound) {
					t.Fatalf("picked %s, want %s/%d/%d", got, tc.wantV, tc.wantSeq, tc.wantFound)
				}
			}
		})
	}
}

// check accepts only genuine answers.
func TestGetCheck(t *testing.T) {
	priv := testKey(9)
	it := mutable(t, priv, "s", 7, "3:abc")
	g, err := GetRequest{PublicKey: it.K[:], Salt: []byte("s"), MinSeq: 5}.validate()
	if err != nil {
		t.Fatal(err)
	}
	good := func() *krpc.Return {
		return &krpc.Return{V: it.V, K: it.K[:], Sig: it.Sig[:], Seq: it.Seq, HasSeq: true}
	}
	if ans, ok := g.check(good()); !ok || !bytes.Equal(ans.item.V, it.V) {
		t.Fatalf("genuine answer refused")
	}
	other := mutable(t, testKey(10), "s", 7, "3:abc")
	for name, r := range map[string]*krpc.Return{
		"no value, no seq":       {},
		"claim of another seq":   {Seq: 6, HasSeq: true},
		"value without seq":      func() *krpc.Return { r := good(); r.HasSeq = false; return r }(),
		"seq changed":            func() *krpc.Return { r := good(); r.Seq = 8; return r }(),
		"value changed":          func() *krpc.Return { r := good(); r.V = []byte("3:abd"); return r }(),
		"other key":              {V: other.V, K: other.K[:], Sig: other.Sig[:], Seq: 7, HasSeq: true},
		"other key's sig, our k": {V: other.V, K: it.K[:], Sig: other.Sig[:], Seq: 7, HasSeq: true},
		"short sig":              func() *krpc.Return { r := good(); r.Sig = r.Sig[:63]; return r }(),
		"below MinSeq": func() *krpc.Return {
			o := mutable(t, priv, "s", 4, "3:old")
			return &krpc.Return{V: o.V, K: o.K[:], Sig: o.Sig[:], Seq: 4, HasSeq: true}
		}(),
		"other salt": func() *krpc.Return {
			o := mutable(t, priv, "t", 7, "3:abc")
			return &krpc.Return{V: o.V, K: o.K[:], Sig: o.Sig[:], Seq: 7, HasSeq: true}
		}(),
	} {
		if _, ok := g.check(r); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if ans, ok := g.check(&krpc.Return{Seq: 5, HasSeq: true}); !ok || ans.hasValue || ans.item.Seq != 5 {
		t.Errorf("claim of MinSeq refused: %+v %v", ans, ok)
	}

	imm, _ := bep44.NewImmutable([]byte("4:imm!"))
	gi, _ := GetRequest{Target: imm.Target()}.validate()
	if _, ok := gi.check(&krpc.Return{V: imm.V}); !ok {
		t.Errorf("genuine immutable refused")
	}
	if _, ok := gi.check(&krpc.Return{V: []byte("4:imm?")}); ok {
		t.Errorf("immutable with the wrong hash accepted")
	}
}

// The soft timeout follows a slow network, within bounds.
func TestAdaptiveSoftTimeout(t *testing.T) {
	ms := time.Millisecond
	base := 250 * ms
	for _, tc := range []struct {
		rtts []time.Duration
		want time.Duration
	}{
		{nil, base},
		{[]time.Duration{900 * ms, 900 * ms}, base}, // too few samples
		{[]time.Duration{100 * ms, 50 * ms, 120 * ms}, base},
		{[]time.Duration{400 * ms, 300 * ms, 500 * ms, 50 * ms}, 600 * ms},
		{[]time.Duration{5 * time.Second, 4 * time.Second, 6 * time.Second}, 4 * base},
	} {
		if got := rttSamples(tc.rtts).softTimeout(base); got != tc.want {
			t.Errorf("rtts %v: soft timeout %v, want %v", tc.rtts, got, tc.want)
		}
	}
}

// FuzzGetCheck feeds hostile get answers to the value check: it must never
// panic, and whatever it accepts must be genuine.
func FuzzGetCheck(f *testing.F) {
	it, err := bep44.NewMutable(testKey(4), []byte("f"), 3, []byte("3:abc"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(it.V, it.K[:], it.Sig[:], int64(3), true, int64(0))
	f.Add([]byte("i1e"), it.K[:], make([]byte, 64), int64(9), true, int64(2))
	f.Add([]byte(nil), []byte(nil), []byte(nil), int64(2), true, int64(2))
	f.Fuzz(func(t *testing.T, v, k, sig []byte, seq int64, hasSeq bool, minSeq int64) {
		r := &krpc.Return{V: v, K: k, Sig: sig, Seq: seq, HasSeq: hasSeq}
		g, err := GetRequest{PublicKey: it.K[:], Salt: []byte("f"), MinSeq: minSeq}.validate()
		if err != nil {
			t.Fatal(err)
		}
		if ans, ok := g.check(r); ok {
			if ans.item.Seq < minSeq || ans.item.Target() != g.target {
				t.Fatalf("accepted %+v for MinSeq %d", ans.item, minSeq)
			}
			if ans.hasValue && ans.item.Verify() != nil {
				t.Fatalf("accepted a value that does not verify")
			}
		}
		gi, _ := GetRequest{Target: bep44.ImmutableTarget([]byte("3:abc"))}.validate()
		if ans, ok := gi.check(r); ok && !bytes.Equal(ans.item.V, []byte("3:abc")) {
			t.Fatalf("immutable check accepted %q", ans.item.V)
		}
	})
}
