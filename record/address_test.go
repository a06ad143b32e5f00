package record

import (
	"bytes"
	"crypto/sha1"
	"errors"
	"strings"
	"testing"

	"github.com/dhtdb/dhtdb/bep44"
)

var testKey = [32]byte{0x8a, 0x1b, 0x2c, 0x3d, 31: 0xff}

func TestAddressForms(t *testing.T) {
	for _, name := range []string{"db", "my db/with slash?#%", "ünïcödé", strings.Repeat("n", 64)} {
		a, err := NewAddress(testKey[:], name)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		for _, text := range []string{a.String(), a.Magnet()} {
			got, err := ParseAddress(text)
			if err != nil {
				t.Fatalf("parse %q: %v", text, err)
			}
			if got != a {
				t.Fatalf("parse %q = %+v, want %+v", text, got, a)
			}
		}
	}
}

func TestAddressText(t *testing.T) {
	a := Address{PublicKey: testKey, Name: "a b/c"}
	const hexKey = "8a1b2c3d000000000000000000000000000000000000000000000000000000ff"
	if got, want := a.String(), "dhtdb://"+hexKey+"/a%20b%2Fc"; got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
	if got, want := a.Magnet(), "magnet:?xs=urn:btpk:"+hexKey+"&s=6120622f63"; got != want {
		t.Errorf("Magnet = %s, want %s", got, want)
	}
	// Upper-case hex, other magnet parameters and parameter order are accepted.
	m := "MAGNET:?dn=x&s=6120622F63&tr=udp://t&xs=urn:btpk:" + strings.ToUpper(hexKey)
	if got, err := ParseAddress(m); err != nil || got != a {
		t.Errorf("parse %s = %+v, %v", m, got, err)
	}
	want := sha1.Sum(append(testKey[:], "a b/c"...))
	if a.Target() != want || !bytes.Equal(a.Salt(), []byte("a b/c")) {
		t.Errorf("target %x, want %x", a.Target(), want)
	}
}

func TestParseAddressErrors(t *testing.T) {
	key := strings.Repeat("ab", 32)
	for _, s := range []string{
		"",
		"db",
		"http://" + key + "/db",
		"dhtdb://" + key,
		"dhtdb://" + key + "/",
		"dhtdb://" + key[:62] + "/db",
		"dhtdb://" + strings.Repeat("zz", 32) + "/db",
		"dhtdb://" + key + "/%zz",
		"dhtdb://" + key + "/" + strings.Repeat("n", 65),
		"dhtdb://" + key + "/%ff",
		"magnet:?xs=urn:btpk:" + key,
		"magnet:?xs=urn:btpk:" + key + "&s=",
		"magnet:?xs=urn:btpk:" + key + "&s=zz",
		"magnet:?xt=urn:btih:" + key[:40] + "&s=6162",
		"magnet:?xs=urn:btpk:" + key[:10] + "&s=6162",
		"magnet:?xs=urn:btpk:" + key + "&s=" + strings.Repeat("61", 65),
		"magnet:?%zz",
	} {
		if a, err := ParseAddress(s); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddress(%q) = %+v, %v; want ErrBadAddress", s, a, err)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	k, err := ParsePublicKey("8A1B2C3D000000000000000000000000000000000000000000000000000000ff")
	if err != nil || k != testKey {
		t.Fatalf("got %x, %v", k, err)
	}
	for _, s := range []string{"", "abc", strings.Repeat("a", 66), strings.Repeat("g", 64)} {
		if _, err := ParsePublicKey(s); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParsePublicKey(%q): %v", s, err)
		}
	}
}

func TestTargetIsBEP44(t *testing.T) {
	a := Address{PublicKey: testKey, Name: "db"}
	if got, want := a.Target(), bep44.MutableTarget(testKey, []byte("db")); got != want {
		t.Fatalf("target %x, bep44 says %x", got, want)
	}
}
