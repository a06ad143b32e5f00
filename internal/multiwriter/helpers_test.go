package multiwriter

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// run runs the binary to completion and returns its stdout; it fails the
// test on a non-zero exit.
func run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dhtdbBinary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("dhtdb %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// background starts the binary, returns its first stdout line, and
// interrupts it at the end of the test.
func background(t *testing.T, args ...string) (string, *exec.Cmd, chan error, *lockedBuf) {
	t.Helper()
	cmd := exec.Command(dhtdbBinary(t), args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuf{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
		for sc.Scan() {
		}
	}()
	select {
	case line, ok := <-first:
		if !ok {
			t.Fatalf("dhtdb %s printed nothing; stderr: %s", strings.Join(args, " "), stderr.String())
		}
		return line, cmd, done, stderr
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("dhtdb %s: nothing printed after 2 minutes; stderr: %s", strings.Join(args, " "), stderr.String())
	}
	return "", nil, nil, nil
}

// startTestnet runs `dhtdb testnet` and returns its bootstrap address.
func startTestnet(t *testing.T, nodes int) string {
	t.Helper()
	line, cmd, done, _ := background(t, "testnet", "--nodes", strconv.Itoa(nodes), "--listen", "127.0.0.1:0", "--json")
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
	})
	var res struct{ Bootstrap string }
	if err := json.Unmarshal([]byte(line), &res); err != nil || !strings.HasPrefix(res.Bootstrap, "127.0.0.1:") {
		t.Fatalf("testnet printed %q: %v", line, err)
	}
	return res.Bootstrap
}

// serveProc is a `dhtdb serve` process on loopback, driven by its HTTP API.
type serveProc struct {
	t    *testing.T
	dir  string
	base string // http://host:port
	cmd  *exec.Cmd
	done chan error
}

// startServeProc starts a daemon in a new data directory; extra flags
// follow the defaults (poll 1 s, automatic publish 300 ms after writes).
func startServeProc(t *testing.T, boot string, extra ...string) *serveProc {
	t.Helper()
	return startServeIn(t, t.TempDir(), boot, extra...)
}

// startServeIn starts a daemon on the data directory dir.
func startServeIn(t *testing.T, dir, boot string, extra ...string) *serveProc {
	t.Helper()
	args := append([]string{"serve", "--data", dir, "--http", "127.0.0.1:0", "--listen", "127.0.0.1:0",
		"--torrent", "127.0.0.1:0", "--bootstrap", boot, "--poll", "1s", "--debounce", "300ms", "--json"}, extra...)
	line, cmd, done, stderr := background(t, args...)
	p := &serveProc{t: t, dir: dir, cmd: cmd, done: done}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("serve %s stderr:\n%s", p.dir, stderr.String())
		}
	})
	var ev struct {
		Event string `json:"event"`
		HTTP  string `json:"http"`
	}
	if json.Unmarshal([]byte(line), &ev) != nil || ev.Event != "started" {
		t.Fatalf("serve printed %q; stderr: %s", line, stderr.String())
	}
	p.base = "http://" + ev.HTTP
	return p
}

// stop interrupts the daemon and waits for it (a no-op once stopped).
func (p *serveProc) stop() {
	if p.done == nil {
		return
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Errorf("serve %s did not stop on SIGINT", p.dir)
	}
	p.done = nil
}

// kill ends the daemon with SIGKILL.
func (p *serveProc) kill() {
	if p.done == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.done
	p.done = nil
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// api calls the daemon; out (if not nil) receives the JSON answer of a 200.
func (p *serveProc) api(method, path string, body, out any) (int, string) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("%s %s: %q: %v", method, path, b, err)
		}
	}
	return res.StatusCode, string(b)
}

func (p *serveProc) must(method, path string, body, out any) {
	p.t.Helper()
	if code, msg := p.api(method, path, body, out); code != http.StatusOK {
		p.t.Fatalf("%s %s: %d %s", method, path, code, msg)
	}
}

func apiDBPath(addr string) string { return "/v1/databases/" + url.PathEscape(addr) }

// count runs a COUNT(*) query; -1 when it fails (no version yet).
func (p *serveProc) count(addr, q string) int64 {
	var rows struct{ Rows [][]any }
	if code, _ := p.api("POST", apiDBPath(addr)+"/query", map[string]any{"sql": q}, &rows); code != http.StatusOK || len(rows.Rows) != 1 {
		return -1
	}
	n, _ := rows.Rows[0][0].(float64)
	return int64(n)
}

type writerStatus struct {
	Seq           int64             `json:"seq"`
	PendingWrites int               `json:"pending_writes"`
	PublishErr    string            `json:"publish_error"`
	LastConflicts []json.RawMessage `json:"last_conflicts"`
}

func (p *serveProc) status(addr string) writerStatus {
	var st writerStatus
	p.api("GET", apiDBPath(addr), nil, &st)
	return st
}

// eventually polls cond every 200 ms until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// writersNet starts a testnet, a key and n writer daemons of one database
// (the first creates it with table log, the others join with the key).
// extra[i] are more flags of writer i's daemon.
func writersNet(t *testing.T, n int, extra ...[]string) (ws []*serveProc, boot, addr string) {
	t.Helper()
	boot = startTestnet(t, 16)
	key := filepath.Join(t.TempDir(), "shared.key")
	run(t, "keygen", "--no-passphrase", "--out", key, "--json")
	for i := range n {
		var more []string
		if i < len(extra) {
			more = extra[i]
		}
		ws = append(ws, startServeProc(t, boot, more...))
	}
	var st struct{ Address string }
	ws[0].must("POST", "/v1/databases", map[string]any{"name": "shared", "key_file": key}, &st)
	addr = st.Address
	ws[0].must("POST", apiDBPath(addr)+"/exec", map[string]any{"sql": "CREATE TABLE log(w INTEGER, i INTEGER, v TEXT, PRIMARY KEY(w, i))"}, nil)
	ws[0].must("POST", apiDBPath(addr)+"/publish", nil, nil)
	for _, w := range ws[1:] {
		w.must("POST", "/v1/follow", map[string]any{"db": addr, "key_file": key}, nil)
	}
	for i, w := range ws {
		eventually(t, 2*time.Minute, fmt.Sprintf("writer %d has the table", i), func() bool { return w.count(addr, "SELECT COUNT(*) FROM log") == 0 })
	}
	return ws, boot, addr
}
