package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/keyfile"
	"github.com/dhtdb/dhtdb/record"
)

// runInProcess runs the command line in this process with the given stdin
// and environment.
func runInProcess(t *testing.T, stdin string, envv map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(k string) string { return envv[k] }}
	code := run(context.Background(), e, args)
	return out.String(), errb.String(), code
}

func TestParseFlagsInterspersed(t *testing.T) {
	for _, c := range []struct {
		args []string
		pos  []string
		key  string
	}{
		{[]string{"v"}, []string{"v"}, ""},
		{[]string{"--key", "k", "v"}, []string{"v"}, "k"},
		{[]string{"v", "--key", "k"}, []string{"v"}, "k"},
		{[]string{"a", "--key=k", "b"}, []string{"a", "b"}, "k"},
		{[]string{"--key", "k", "--", "-v", "--key"}, []string{"-v", "--key"}, "k"},
		{[]string{"a", "--", "--key", "x"}, []string{"a", "--key", "x"}, ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		key := fs.String("key", "", "")
		pos, err := parseFlags(fs, c.args)
		if err != nil || !reflect.DeepEqual(pos, c.pos) || *key != c.key {
			t.Errorf("%q: pos %q key %q err %v; want %q %q", c.args, pos, *key, err, c.pos, c.key)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	if _, err := parseFlags(fs, []string{"a", "--nope"}); !errors.As(err, new(usageError)) {
		t.Errorf("unknown flag: %v, want a usage error", err)
	}
}

func TestFindCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		name string
		rest []string
	}{
		{[]string{"keygen", "--out", "x"}, "keygen", []string{"--out", "x"}},
		{[]string{"dht", "put", "v"}, "dht put", []string{"v"}},
		{[]string{"dht", "get"}, "dht get", []string{}},
		{[]string{"bench", "dht", "--json"}, "bench dht", []string{"--json"}},
	} {
		cmd, rest := findCommand(c.args)
		if cmd == nil || cmd.name != c.name || len(rest) != len(c.rest) {
			t.Errorf("%q: got %v %q", c.args, cmd, rest)
		}
	}
	for _, args := range [][]string{{"dht"}, {"dht", "nope"}, {"put"}, {"bench"}, {"serve-me"}} {
		if cmd, _ := findCommand(args); cmd != nil {
			t.Errorf("%q matched %q", args, cmd.name)
		}
	}
}

func TestUsage(t *testing.T) {
	out, _, code := runInProcess(t, "", nil, "help")
	if code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, c := range commandTable() {
		if !strings.Contains(out, "  "+c.name+" ") {
			t.Errorf("usage does not list %q", c.name)
		}
	}
	_, errOut, code := runInProcess(t, "", nil)
	if code != 2 || !strings.Contains(errOut, "usage:") {
		t.Errorf("no arguments: exit %d, stderr %q", code, errOut)
	}
	out, _, code = runInProcess(t, "", nil, "dht", "put", "-h")
	if code != 0 || !strings.Contains(out, "usage: dhtdb dht put") || !strings.Contains(out, "-bootstrap") {
		t.Errorf("dht put -h: exit %d\n%s", code, out)
	}
}

func TestKeygenInProcess(t *testing.T) {
	dir := t.TempDir()
	// Passphrase from the first line of stdin (not a terminal).
	path := filepath.Join(dir, "k")
	out, errOut, code := runInProcess(t, "s3cret\n", nil, "keygen", "--out", path, "--work-factor", "10")
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut)
	}
	pub := strings.TrimSpace(out)
	priv, err := keyfile.Load(path, func() (string, error) { return "s3cret", nil })
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := record.ParsePublicKey(pub); !bytes.Equal(got[:], priv[32:]) {
		t.Fatalf("printed public key %s does not match the file", pub)
	}
	// From the environment, which wins over stdin.
	path2 := filepath.Join(dir, "k2")
	if _, errOut, code := runInProcess(t, "ignored\n", map[string]string{passphraseEnv: "envpass"}, "keygen", "--out", path2, "--work-factor", "10"); code != 0 {
		t.Fatalf("keygen: %s", errOut)
	}
	if _, err := keyfile.Load(path2, func() (string, error) { return "envpass", nil }); err != nil {
		t.Fatal(err)
	}
	// No passphrase anywhere: refused, no file.
	path3 := filepath.Join(dir, "k3")
	if _, errOut, code := runInProcess(t, "", nil, "keygen", "--out", path3); code != 1 || !strings.Contains(errOut, passphraseEnv) {
		t.Fatalf("keygen without passphrase: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(path3); err == nil {
		t.Fatal("key file written without a passphrase")
	}
}

func TestValueEncoding(t *testing.T) {
	for _, s := range []string{"", "hello", "ünï", strings.Repeat("x", 20)} {
		v := bencodeString(s)
		got, ok := parseBencodeString(v)
		if !ok || got != s {
			t.Errorf("%q: bencoded %q parsed back as %q %v", s, v, got, ok)
		}
	}
	for _, v := range []string{"i1e", "5:abc", "03:abc", "le", "x", "-1:", "2:abc"} {
		if s, ok := parseBencodeString([]byte(v)); ok {
			t.Errorf("%q parsed as string %q", v, s)
		}
	}
	if sv := showValue([]byte("i42e")); sv.Value != nil || sv.text() != "i42e" || sv.VHex != "69343265" {
		t.Errorf("integer value shown as %+v", sv)
	}
	r := record.Next(record.Record{}, [20]byte{1}, 10, time.Unix(1764000000, 0))
	v, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if sv := showValue(v); sv.Record == nil || sv.Record.IH != r.IH {
		t.Errorf("record value not decoded: %+v", sv)
	}
}

func TestListenAddr(t *testing.T) {
	for _, c := range []struct {
		listen, bootstrap, want string
	}{
		{"", "127.0.0.1:1,127.0.0.2:2", "127.0.0.1:0"},
		{"", "127.0.0.1:1,router.bittorrent.com:6881", "0.0.0.0:0"},
		{"", "", "0.0.0.0:0"},
		{"127.0.0.5:7", "1.2.3.4:5", "127.0.0.5:7"},
	} {
		f := netFlags{listen: c.listen, bootstrap: c.bootstrap}
		boot, err := f.bootstrapList()
		if err != nil {
			t.Fatal(err)
		}
		if got := f.listenAddr(boot); got != c.want {
			t.Errorf("listen %q bootstrap %q: %s, want %s", c.listen, c.bootstrap, got, c.want)
		}
	}
	f := netFlags{bootstrap: "a:1, ,b:2"}
	if got, err := f.bootstrapList(); err != nil || !reflect.DeepEqual(got, []string{"a:1", "b:2"}) {
		t.Errorf("bootstrap list %q %v", got, err)
	}
	if !strings.Contains(defaultBootstrap, "router.bittorrent.com:6881") {
		t.Error("default bootstrap lost the public routers")
	}
}
