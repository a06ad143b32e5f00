package record

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
)

func hash(b byte) [20]byte {
	var h [20]byte
	for i := range h {
		h[i] = b
	}
	return h
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	r := Record{
		IH:       hash(1),
		Prev:     [][20]byte{hash(2), hash(3)},
		T:        1764000000,
		Size:     4096,
		ReadOnly: true,
		NextKey:  bytes.Repeat([]byte{9}, 32),
		Enc:      "age-x25519:k1",
		Unknown:  map[string]bencode.Bytes{"zz": bencode.Bytes("li1ei2ee"), "a": bencode.Bytes("3:abc")},
	}
	v, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(v)
	if err != nil {
		t.Fatalf("decode %q: %v", v, err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
	again, err := got.Encode()
	if err != nil || !bytes.Equal(again, v) {
		t.Fatalf("re-encode differs: %q vs %q (%v)", again, v, err)
	}
}

func TestDecodeBEP46Minimal(t *testing.T) {
	ih := hash(7)
	v := []byte("d2:ih20:" + string(ih[:]) + "e")
	r, err := Decode(v)
	if err != nil {
		t.Fatal(err)
	}
	if r.IH != ih || r.T != 0 || r.Size != 0 || r.Prev != nil || r.Unknown != nil {
		t.Fatalf("got %+v", r)
	}
}

func TestDecodeErrors(t *testing.T) {
	ih := "2:ih20:" + strings.Repeat("a", 20)
	h20 := "20:" + strings.Repeat("b", 20)
	cases := map[string]struct {
		v    string
		want string
	}{
		"empty":         {"", "not a bencoded dictionary"},
		"list":          {"le", "not a bencoded dictionary"},
		"truncated":     {"d2:ih", "malformed"},
		"trailing":      {"d" + ih + "ee", "malformed"},
		"no ih":         {"d1:ti1ee", "no ih"},
		"ih short":      {"d2:ih19:" + strings.Repeat("a", 19) + "e", "ih is 19 bytes, want 20"},
		"ih int":        {"d2:ihi1ee", "ih is an integer, want a string"},
		"unsorted":      {"d" + ih + "1:ai1ee", "unsorted or repeated"},
		"repeated":      {"d" + ih + "2:ihi1ee", "unsorted or repeated"},
		"t string":      {"d" + ih + "1:t1:xe", "t is a string, want an integer"},
		"t negative":    {"d" + ih + "1:ti-5ee", "t is negative"},
		"t leading 0":   {"d" + ih + "1:ti05ee", "malformed"},
		"t overflow":    {"d" + ih + "1:ti99999999999999999999ee", "malformed"},
		"size list":     {"d" + ih + "4:sizelee", "size is a list, want an integer"},
		"ro 2":          {"d" + ih + "2:roi2ee", "ro is 2, want 1"},
		"ro string":     {"d" + ih + "2:ro1:1e", "ro is a string"},
		"next short":    {"d" + ih + "4:next3:abce", "next is 3 bytes, want 32"},
		"enc empty":     {"d3:enc0:" + ih + "e", "enc is empty"},
		"enc dict":      {"d3:encde" + ih + "e", "enc is a dictionary"},
		"prev string":   {"d" + ih + "4:prev" + h20 + "e", "prev is a string, want a list"},
		"prev 5":        {"d" + ih + "4:prevl" + strings.Repeat(h20, 5) + "ee", "prev has 5 entries"},
		"prev short":    {"d" + ih + "4:prevl" + h20 + "3:abcee", "prev[1] is 3 bytes"},
		"prev int item": {"d" + ih + "4:prevli1eee", "prev[0] is an integer"},
	}
	for name, c := range cases {
		_, err := Decode([]byte(c.v))
		if err == nil {
			t.Errorf("%s: decoded %q", name, c.v)
			continue
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want ErrMalformed mentioning %q", name, err, c.want)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	r := Record{IH: hash(1), Unknown: map[string]bencode.Bytes{}}
	big := strings.Repeat("x", 900)
	r.Unknown["pad"] = bencode.MustMarshal(big)
	v, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(v) > MaxSize {
		t.Fatalf("encoded %d bytes", len(v))
	}
	r.Unknown["pad"] = bencode.MustMarshal(big + strings.Repeat("y", MaxSize-len(v)+1))
	if _, err := r.Encode(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversize encode: %v, want ErrTooBig", err)
	}
	raw := []byte("d2:ih20:" + strings.Repeat("a", 20) + "3:pad" + "980:" + strings.Repeat("z", 980) + "e")
	if _, err := Decode(raw); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversize decode (%d bytes): %v, want ErrTooBig", len(raw), err)
	}
}

func TestEncodeRejects(t *testing.T) {
	cases := map[string]Record{
		"zero ih":       {},
		"five prev":     {IH: hash(1), Prev: make([][20]byte, 5)},
		"negative size": {IH: hash(1), Size: -1},
		"short next":    {IH: hash(1), NextKey: []byte{1}},
		"known unknown": {IH: hash(1), Unknown: map[string]bencode.Bytes{"ih": bencode.Bytes("i1e")}},
		"bad unknown":   {IH: hash(1), Unknown: map[string]bencode.Bytes{"x": bencode.Bytes("i1")}},
		"two values":    {IH: hash(1), Unknown: map[string]bencode.Bytes{"x": bencode.Bytes("i1ei2e")}},
	}
	for name, r := range cases {
		if v, err := r.Encode(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Encode = %q, %v; want ErrMalformed", name, v, err)
		}
	}
}

func TestNext(t *testing.T) {
	now := time.Unix(1764000000, 0)
	r := Next(Record{}, hash(1), 100, now)
	if r.IH != hash(1) || r.Prev != nil || r.T != now.Unix() || r.Size != 100 {
		t.Fatalf("first record: %+v", r)
	}
	r.Unknown = map[string]bencode.Bytes{"x": bencode.Bytes("i1e")}
	r.Enc = "e"
	for i := byte(2); i <= 7; i++ {
		r = Next(r, hash(i), int64(i), now.Add(time.Duration(i)*time.Second))
	}
	want := [][20]byte{hash(6), hash(5), hash(4), hash(3)}
	if r.IH != hash(7) || !reflect.DeepEqual(r.Prev, want) {
		t.Fatalf("after 7 publishes: ih %x prev %x", r.IH[0], r.Prev)
	}
	if r.Enc != "e" || string(r.Unknown["x"]) != "i1e" {
		t.Fatalf("carried fields lost: %+v", r)
	}
	if got := r.Versions(); len(got) != 5 || got[0] != hash(7) || got[4] != hash(3) {
		t.Fatalf("versions %x", got)
	}
	// Republishing the same snapshot does not push it into prev.
	same := Next(r, hash(7), 7, now)
	if !reflect.DeepEqual(same.Prev, want) {
		t.Fatalf("republish changed prev: %x", same.Prev)
	}
	// Going back to an older snapshot removes it from prev.
	back := Next(r, hash(5), 5, now)
	if !reflect.DeepEqual(back.Prev, [][20]byte{hash(7), hash(6), hash(4), hash(3)}) {
		t.Fatalf("prev after going back: %x", back.Prev)
	}
	// Next does not share the unknown map with its input.
	back.Unknown["y"] = bencode.Bytes("i2e")
	if _, ok := r.Unknown["y"]; ok {
		t.Fatal("Next shares Unknown with prev")
	}
}
