package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// testWorkFactor keeps scrypt cheap in tests; the default stays DefaultWorkFactor.
const testWorkFactor = 10

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func pass(s string) func() (string, error) {
	return func() (string, error) { return s, nil }
}

func TestEncryptedRoundTrip(t *testing.T) {
	priv := newKey(t)
	path := filepath.Join(t.TempDir(), "key")
	if err := Write(path, priv, WriteOptions{Passphrase: "correct horse", WorkFactor: testWorkFactor}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !IsEncrypted(data) || bytes.Contains(data, []byte(Header)) {
		t.Fatalf("file is not age-encrypted:\n%s", data)
	}
	got, err := Load(path, pass("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Equal(got) {
		t.Fatal("loaded key differs from the written one")
	}
	_, err = Load(path, pass("wrong"))
	if !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: got %v, want ErrWrongPassphrase", err)
	}
	_, err = Load(path, nil)
	if !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("no passphrase func: got %v, want ErrNoPassphrase", err)
	}
	_, err = Load(path, pass(""))
	if !errors.Is(err, ErrNoPassphrase) {
		t.Fatalf("empty passphrase: got %v, want ErrNoPassphrase", err)
	}
}

func TestPlaintextRoundTrip(t *testing.T) {
	priv := newKey(t)
	path := filepath.Join(t.TempDir(), "key")
	if err := Write(path, priv, WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", st.Mode().Perm())
	}
	called := false
	got, err := Load(path, func() (string, error) { called = true; return "", nil })
	if err != nil {
		t.Fatal(err)
	}
	if called {
		t.Fatal("passphrase asked for a plaintext key")
	}
	if !priv.Equal(got) {
		t.Fatal("loaded key differs from the written one")
	}
}

func TestWriteRefusesOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Write(path, newKey(t), WriteOptions{Plaintext: true})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("got %v, want ErrExists", err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != "precious" {
		t.Fatalf("existing file changed to %q", data)
	}
}

func TestWriteOptionsValidate(t *testing.T) {
	dir := t.TempDir()
	for name, opts := range map[string]WriteOptions{
		"nothing":     {},
		"both":        {Plaintext: true, Passphrase: "x"},
		"work factor": {Passphrase: "x", WorkFactor: MaxWorkFactor + 1},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := Write(path, newKey(t), opts); err == nil {
			t.Errorf("%s: Write accepted %+v", name, opts)
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("%s: file created despite the error", name)
		}
	}
	if err := (WriteOptions{}).withDefaults().validate(); !errors.Is(err, ErrNoPassphrase) {
		t.Errorf("zero options: got %v, want ErrNoPassphrase", err)
	}
	if got := (WriteOptions{Passphrase: "x"}).withDefaults().WorkFactor; got != DefaultWorkFactor {
		t.Errorf("default work factor %d, want %d", got, DefaultWorkFactor)
	}
}

func TestLoadRefusesReadablePlaintext(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no unix permissions")
	}
	path := filepath.Join(t.TempDir(), "key")
	if err := Write(path, newKey(t), WriteOptions{Plaintext: true}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, nil)
	if !errors.Is(err, ErrInsecurePermission) {
		t.Fatalf("got %v, want ErrInsecurePermission", err)
	}
	if !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("error does not say how to fix it: %v", err)
	}
}

func TestDecodeBadFormat(t *testing.T) {
	priv := newKey(t)
	good := string(Encode(priv))
	other := newKey(t)
	seedHex := strings.Fields(strings.Split(good, "\n")[1])[1]
	cases := map[string]string{
		"empty":        "",
		"garbage":      "hello world\n",
		"old version":  strings.Replace(good, "v1", "v0", 1),
		"no seed":      Header + "\n",
		"short seed":   Header + "\nseed abcd\n",
		"bad hex":      Header + "\nseed " + strings.Repeat("zz", 32) + "\n",
		"unknown line": good + "comment hi\n",
		"twice":        good + "seed " + seedHex + "\n",
		"wrong public": strings.Replace(good, "public ", "public x", 1),
		"mismatch": Header + "\nseed " + seedHex + "\npublic " +
			strings.Fields(strings.Split(string(Encode(other)), "\n")[2])[1] + "\n",
		"armor junk": "-----BEGIN AGE ENCRYPTED FILE-----\nnot base64!\n-----END AGE ENCRYPTED FILE-----\n",
		"age junk":   "age-encryption.org/v1\n-> scrypt\n",
	}
	for name, data := range cases {
		_, err := Decode([]byte(data), pass("x"))
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: got %v, want ErrFormat", name, err)
		}
	}
	if got, err := Decode([]byte(good), nil); err != nil || !priv.Equal(got) {
		t.Fatalf("good key: %v", err)
	}
}

func TestEncryptedFileIsArmoredText(t *testing.T) {
	data, err := Encrypt(newKey(t), "pw", testWorkFactor)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "-----BEGIN AGE ENCRYPTED FILE-----\n") {
		t.Fatalf("not armored:\n%s", data)
	}
}
