package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/internal/proctest"
)

// The end-to-end tests build the real binary and run it as a user would,
// against a `dhtdb testnet` process on loopback.

// bin is the dhtdb binary the tests run.
var bin proctest.Builder

func TestMain(m *testing.M) {
	code := m.Run()
	bin.Cleanup()
	os.Exit(code)
}

// dhtdbBinary builds cmd/dhtdb once (CGO_ENABLED=0) and returns its path.
func dhtdbBinary(t *testing.T) string {
	t.Helper()
	return bin.Binary(t)
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// dhtdb runs the binary with args and extra environment variables.
func dhtdb(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dhtdbBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader("")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run dhtdb %v: %v", args, err)
	}
	return res
}

// ok runs dhtdb, requires success and decodes its one JSON line into v.
func ok(t *testing.T, v any, env []string, args ...string) {
	t.Helper()
	r := dhtdb(t, env, args...)
	if r.code != 0 {
		t.Fatalf("dhtdb %s: exit %d\nstderr: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("dhtdb %s: output %q: %v", strings.Join(args, " "), r.stdout, err)
	}
}

// fails runs dhtdb, requires exit code and a one-line error mentioning want.
func fails(t *testing.T, code int, want string, env []string, args ...string) {
	t.Helper()
	r := dhtdb(t, env, args...)
	if r.code != code {
		t.Fatalf("dhtdb %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "dhtdb ") || !strings.Contains(r.stderr, want) {
		t.Fatalf("dhtdb %s: stderr %q, want one line mentioning %q", strings.Join(args, " "), r.stderr, want)
	}
}

// refused runs a put that nodes should refuse with code: the report (on
// stdout whether or not some node stored it) counts the refusals, and when
// the command failed its error is one line mentioning want.
func refused(t *testing.T, code, want string, args ...string) {
	t.Helper()
	r := dhtdb(t, nil, args...)
	var rep putResult
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("dhtdb %s: exit %d, report %q: %v; stderr %s", strings.Join(args, " "), r.code, r.stdout, err, r.stderr)
	}
	if rep.Rejected[code] == 0 {
		t.Fatalf("dhtdb %s: no node refused with %s: %+v", strings.Join(args, " "), code, rep)
	}
	if r.code == 0 && rep.Stored == 0 || r.code != 0 && rep.Stored != 0 {
		t.Fatalf("dhtdb %s: exit %d with stored %d", strings.Join(args, " "), r.code, rep.Stored)
	}
	if r.code != 0 && (r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want)) {
		t.Fatalf("dhtdb %s: exit %d, stderr %q, want one line mentioning %q", strings.Join(args, " "), r.code, r.stderr, want)
	}
}

// startBackground runs dhtdb with args in the background and returns the
// first line it prints; the process is interrupted at the end of the test
// and must exit cleanly.
func startBackground(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(dhtdbBinary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dhtdb %s: exit: %v\n%s", args[0], err, stderr.String())
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Errorf("dhtdb %s did not stop on SIGINT", args[0])
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		for sc.Scan() {
		}
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			t.Fatalf("dhtdb %s printed nothing; stderr: %s", args[0], stderr.String())
		}
		return line
	case <-time.After(2 * time.Minute):
		t.Fatalf("dhtdb %s not ready after 2 minutes; stderr: %s", args[0], stderr.String())
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startTestnet runs `dhtdb testnet` in the background and returns its
// bootstrap address.
func startTestnet(t *testing.T, nodes int) string {
	t.Helper()
	line := startBackground(t, "testnet", "--nodes", strconv.Itoa(nodes), "--listen", "127.0.0.1:0", "--json")
	var res testnetResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("testnet output %q: %v", line, err)
	}
	if res.Nodes != nodes || len(res.Addrs) != nodes || !strings.HasPrefix(res.Bootstrap, "127.0.0.1:") {
		t.Fatalf("testnet output %+v", res)
	}
	return res.Bootstrap
}

func TestEndToEnd(t *testing.T) {
	boot := startTestnet(t, 20)
	dir := t.TempDir()
	key := filepath.Join(dir, "owner.key")
	net := []string{"--bootstrap", boot, "--json"}

	var kg keygenResult
	ok(t, &kg, nil, "keygen", "--no-passphrase", "--out", key, "--json")
	if len(kg.PublicKey) != 64 || kg.Encrypted {
		t.Fatalf("keygen: %+v", kg)
	}

	// Immutable put and get.
	var put putResult
	ok(t, &put, nil, append([]string{"dht", "put", "hello dht"}, net...)...)
	want := sha1.Sum([]byte("9:hello dht"))
	if put.Target != hex.EncodeToString(want[:]) || put.Stored < 1 || put.Mutable {
		t.Fatalf("immutable put: %+v", put)
	}
	var get getResult
	ok(t, &get, nil, append([]string{"dht", "get", put.Target}, net...)...)
	if get.Value == nil || *get.Value != "hello dht" || get.Mutable || get.Found < 1 {
		t.Fatalf("immutable get: %+v", get)
	}

	// Mutable puts with salt: seq defaults to the highest found + 1. Flags
	// may follow VALUE.
	for i, value := range []string{"first", "second"} {
		var mp putResult
		ok(t, &mp, nil, append([]string{"dht", "put", value, "--key", key, "--salt", "mydb"}, net...)...)
		if !mp.Mutable || mp.Seq == nil || *mp.Seq != int64(i+1) || mp.PubKey != kg.PublicKey || mp.Stored < 1 ||
			mp.Address != "dhtdb://"+kg.PublicKey+"/mydb" {
			t.Fatalf("mutable put %d: %+v", i+1, mp)
		}
	}
	addr := "dhtdb://" + kg.PublicKey + "/mydb"
	magnet := "magnet:?xs=urn:btpk:" + kg.PublicKey + "&s=" + hex.EncodeToString([]byte("mydb"))
	for _, args := range [][]string{{"--pubkey", kg.PublicKey, "--salt", "mydb"}, {addr}, {magnet}} {
		var mg getResult
		ok(t, &mg, nil, append(append([]string{"dht", "get"}, args...), net...)...)
		if !mg.Mutable || mg.Seq == nil || *mg.Seq != 2 || mg.Value == nil || *mg.Value != "second" ||
			mg.Salt == nil || *mg.Salt != "mydb" || mg.PubKey != kg.PublicKey {
			t.Fatalf("mutable get %v: %+v", args, mg)
		}
	}

	// An old seq is refused by the nodes that hold seq 2 (302), a wrong cas
	// too (301). Normally every node asked holds seq 2 and the command fails;
	// a node that missed the earlier puts would store it, so the test checks
	// the refusals in the report, printed either way.
	refused(t, "302", "seq lower", append([]string{"dht", "put", "--key", key, "--salt", "mydb", "--seq", "1", "stale"}, net...)...)
	refused(t, "301", "cas mismatch", append([]string{"dht", "put", "--key", key, "--salt", "mydb", "--seq", "3", "--cas", "1", "x"}, net...)...)

	// Text output of a get names value and seq.
	r := dhtdb(t, nil, "dht", "get", addr, "--bootstrap", boot)
	if r.code != 0 || !strings.Contains(r.stdout, "value second\n") || !strings.Contains(r.stdout, "seq 2\n") {
		t.Fatalf("text get: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Nothing stored under another salt.
	fails(t, 1, "not found", nil, append([]string{"dht", "get", "--pubkey", kg.PublicKey, "--salt", "other"}, net...)...)
}

func TestEndToEndEncryptedKey(t *testing.T) {
	boot := startTestnet(t, 20)
	key := filepath.Join(t.TempDir(), "enc.key")
	pass := []string{"DHTDB_PASSPHRASE=open sesame"}
	var kg keygenResult
	ok(t, &kg, pass, "keygen", "--out", key, "--work-factor", "10", "--json")
	if !kg.Encrypted {
		t.Fatalf("keygen: %+v", kg)
	}
	var mp putResult
	ok(t, &mp, pass, "dht", "put", "--key", key, "--salt", "s", "--bootstrap", boot, "--json", "v")
	if mp.PubKey != kg.PublicKey || *mp.Seq != 1 {
		t.Fatalf("put with encrypted key: %+v", mp)
	}
	fails(t, 1, "wrong passphrase", []string{"DHTDB_PASSPHRASE=nope"}, "dht", "put", "--key", key, "--bootstrap", boot, "v")
	fails(t, 1, "already exists", pass, "keygen", "--out", key, "--work-factor", "10")
}

func TestEndToEndBadInput(t *testing.T) {
	// None of these reach the network: the bootstrap address is never used.
	dead := []string{"--bootstrap", "127.0.0.1:9"}
	key := filepath.Join(t.TempDir(), "k")
	ok(t, &keygenResult{}, nil, "keygen", "--no-passphrase", "--out", key, "--json")
	big := strings.Repeat("x", 1000)
	cases := []struct {
		code int
		want string
		args []string
	}{
		{2, "--pubkey", append([]string{"dht", "get", "--pubkey", "not-hex"}, dead...)},
		{2, "--pubkey", append([]string{"dht", "get", "--pubkey", strings.Repeat("ab", 31)}, dead...)},
		{2, "want 40 hex", append([]string{"dht", "get", "abcd"}, dead...)},
		{2, "public key must be 64 hex", append([]string{"dht", "get", "dhtdb://zz/x"}, dead...)},
		{2, "no s= salt", append([]string{"dht", "get", "magnet:?xs=urn:btpk:" + strings.Repeat("ab", 32)}, dead...)},
		{1, "value too big", append([]string{"dht", "put", big}, dead...)},
		{1, "value too big", append([]string{"dht", "put", "--key", key, big}, dead...)},
		{1, "salt too big", append([]string{"dht", "put", "--key", key, "--salt", strings.Repeat("s", 65), "v"}, dead...)},
		{2, "need --key", append([]string{"dht", "put", "--salt", "s", "v"}, dead...)},
		{2, "exactly one VALUE", append([]string{"dht", "put", "a", "b"}, dead...)},
		{2, "--bootstrap", []string{"dht", "get", "--bootstrap", "nocolon", strings.Repeat("ab", 20)}},
		{1, "not a dhtdb key file", append([]string{"dht", "put", "--key", "/dev/null", "v"}, dead...)},
		{2, "flag provided but not defined", []string{"dht", "put", "--nope", "v"}},
		{2, "loopback", []string{"testnet", "--listen", "0.0.0.0:0"}},
		{2, "--out FILE is required", []string{"keygen"}},
	}
	for _, c := range cases {
		fails(t, c.code, c.want, nil, c.args...)
	}
	r := dhtdb(t, nil, "nosuchcommand")
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("unknown command: exit %d, stderr %q", r.code, r.stderr)
	}
	r = dhtdb(t, nil, "help")
	if r.code != 0 || !strings.Contains(r.stdout, "dht put") || !strings.Contains(r.stdout, "testnet") {
		t.Fatalf("help: exit %d\n%s", r.code, r.stdout)
	}
}

func TestDemo(t *testing.T) {
	r := dhtdb(t, nil, "demo", "--json")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	steps := map[string]demoEvent{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev demoEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("demo line %q: %v", line, err)
		}
		steps[ev.Step] = ev
	}
	for _, name := range []string{"network", "daemons", "create", "publish v1", "follow", "publish v2", "sync v2",
		"query", "writer leaves", "fallback", "writer back", "republish", "replay"} {
		if _, ok := steps[name]; !ok {
			t.Errorf("demo printed no %q step:\n%s", name, r.stdout)
		}
	}
	if seq := steps["writer back"].Data["seq"]; seq != 3.0 {
		t.Errorf("after the writer came back, readers hold seq %v, want 3", seq)
	}
	if seq := steps["fallback"].Data["seq"]; seq != 3.0 {
		t.Errorf("the fallback reader saw seq %v, want 3", seq)
	}
	if n := steps["replay"].Data["rejected_302"]; n == nil || n.(float64) < 1 {
		t.Errorf("replay refused by %v nodes", n)
	}
}
