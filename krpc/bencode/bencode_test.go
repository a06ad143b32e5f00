package bencode

import (
	"errors"
	"testing"
)

func TestDecodeKeepsRawSpans(t *testing.T) {
	in := []byte("d1:ad1:xi-3ee1:bl4:spami0eee")
	v, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := v.Get("a")
	b, _ := v.Get("b")
	if string(a.Raw) != "d1:xi-3ee" || string(b.Raw) != "l4:spami0ee" || string(v.Raw) != string(in) {
		t.Fatalf("raw spans %q %q", a.Raw, b.Raw)
	}
	if x, _ := a.Get("x"); x.Kind != Int || x.Int != -3 {
		t.Fatalf("x = %+v", x)
	}
	if b.List[0].Kind != String || string(b.List[0].Str) != "spam" {
		t.Fatalf("list %+v", b.List)
	}
}

func TestDecodeIsStrict(t *testing.T) {
	for _, in := range []string{
		"", "i-0e", "i00e", "i1", "ie", "i9223372036854775808e", "01:a", "2:a", "d1:a", "d1:b0:1:a0:e", "d1:a0:1:a0:e",
		"di1e0:e", "l", "x", "1:ab", "4294967296:a",
	} {
		if _, err := Decode([]byte(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Decode(%q) = %v, want ErrSyntax", in, err)
		}
	}
	deep := make([]byte, 0, 2*MaxDepth+2)
	for range MaxDepth + 1 {
		deep = append(deep, 'l')
	}
	for range MaxDepth + 1 {
		deep = append(deep, 'e')
	}
	if _, err := Decode(deep); !errors.Is(err, ErrSyntax) {
		t.Errorf("nesting deeper than MaxDepth accepted: %v", err)
	}
}

func TestDictBuilderSortsKeys(t *testing.T) {
	var d DictBuilder
	d.Int("z", 1)
	d.String("a", []byte("x"))
	d.Raw("m", []byte("le"))
	if got := string(d.AppendTo(nil)); got != "d1:a1:x1:mle1:zi1ee" {
		t.Fatalf("got %q", got)
	}
}
