package ltpeer

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

//go:embed ltpeer.py
var driverScript string

// DefaultPython is the interpreter that runs the driver. Debian's
// python3-libtorrent installs its module for the system interpreter only, so
// this is not "python3" from PATH.
const DefaultPython = "/usr/bin/python3"

// DefaultStartTimeout bounds how long Start waits for the interpreter to load
// libtorrent and open its listen socket.
const DefaultStartTimeout = 30 * time.Second

// DefaultCloseGrace is how long Close waits for the driver to exit after its
// stdin is closed before it kills the process.
const DefaultCloseGrace = 3 * time.Second

// InstallHint is the advice carried by ErrNoLibtorrent.
const InstallHint = "install python3-libtorrent (Debian/Ubuntu: sudo apt-get install python3-libtorrent; scripts/test does it in CI)"

var (
	// ErrNoLibtorrent means the interpreter or its libtorrent module is missing.
	ErrNoLibtorrent = errors.New("ltpeer: libtorrent python bindings not available: " + InstallHint)
	// ErrClosed is returned by calls on a closed Peer or after the driver died.
	ErrClosed = errors.New("ltpeer: peer closed")
	// ErrNotFound is returned by the DHT gets when libtorrent found no item.
	ErrNotFound = errors.New("ltpeer: item not found")
	// ErrConfig is wrapped by Start's error for an invalid Config.
	ErrConfig = errors.New("ltpeer: invalid config")
)

// Config configures one libtorrent peer. The zero value is a DHT node on
// 127.0.0.1 with an ephemeral port, TCP only, no bootstrap nodes.
type Config struct {
	// Python is the interpreter; "": DefaultPython.
	Python string
	// Listen is libtorrent's listen address, "ip:port" (TCP, uTP and the DHT
	// share the port); "": "127.0.0.1:0". It must be a loopback address:
	// ltpeer exists for tests and benchmarks, which never leave 127.0.0.0/8.
	Listen string
	// Bootstrap are DHT nodes added with add_dht_node right after start;
	// loopback addresses only.
	Bootstrap []netip.AddrPort
	// NoDHT turns libtorrent's DHT off (a plain torrent client).
	NoDHT bool
	// ReadOnly puts the DHT node in BEP 43 read-only mode: it queries but is
	// not queried, so it never stores items for others.
	ReadOnly bool
	// UTP enables uTP besides TCP for torrents (off: uTP on loopback is slow).
	UTP bool
	// Env is added to the driver's environment (e.g. PYTHONPATH).
	Env []string
	// Stderr receives the driver's stderr (Python tracebacks); nil: kept in a
	// small buffer quoted in errors.
	Stderr io.Writer
	// StartTimeout bounds Start; 0: DefaultStartTimeout.
	StartTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Python == "" {
		c.Python = DefaultPython
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:0"
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	return c
}

// validate checks a Config with defaults applied.
func (c Config) validate() error {
	listen, err := netip.ParseAddrPort(c.Listen)
	if err != nil {
		return fmt.Errorf("%w: listen %q: %v", ErrConfig, c.Listen, err)
	}
	if !listen.Addr().IsLoopback() {
		return fmt.Errorf("%w: listen %v is not a loopback address", ErrConfig, listen)
	}
	for _, b := range c.Bootstrap {
		if !b.Addr().IsLoopback() {
			return fmt.Errorf("%w: bootstrap node %v is not a loopback address", ErrConfig, b)
		}
	}
	return nil
}

// Peer is one running libtorrent session in a child process. Its methods are
// safe for concurrent use.
type Peer struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	version string
	port    int
	stderr  *tailBuffer

	writeMu sync.Mutex // serializes request lines on stdin

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan response
	dead    error // set once the driver exited: why, with its stderr's tail
	done    chan struct{}

	closing   bool // set by Close: an exit is expected
	closeOnce sync.Once
}

type response struct {
	ID     int64           `json:"id"`
	Event  string          `json:"event"`
	Error  string          `json:"error"`
	Result json.RawMessage `json:"result"`
	// Version is set on the "ready" event.
	Version string `json:"version"`
}

// Start launches the driver, starts a libtorrent session and adds the
// bootstrap nodes. It returns an error wrapping ErrNoLibtorrent when the
// interpreter or libtorrent's Python module is missing.
func Start(ctx context.Context, cfg Config) (*Peer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.Python); err != nil {
		return nil, fmt.Errorf("%w (%s: %v)", ErrNoLibtorrent, cfg.Python, err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()

	cmd := exec.Command(cfg.Python, "-u", "-c", driverScript)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8")
	cmd.Env = append(cmd.Env, cfg.Env...)
	setProcAttr(cmd)
	p := &Peer{
		cmd:     cmd,
		pending: make(map[int64]chan response),
		done:    make(chan struct{}),
		stderr:  &tailBuffer{max: 4096},
	}
	if cfg.Stderr != nil {
		cmd.Stderr = io.MultiWriter(cfg.Stderr, p.stderr)
	} else {
		cmd.Stderr = p.stderr
	}
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("ltpeer: stdin pipe: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ltpeer: stdout pipe: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ltpeer: start %s: %w", cfg.Python, err)
	}
	ready := make(chan response, 1)
	go p.readLoop(stdout, ready)

	select {
	case r := <-ready:
		if r.Event == "fatal" {
			p.Close()
			return nil, fmt.Errorf("%w (%s)", ErrNoLibtorrent, r.Error)
		}
		p.version = r.Version
	case <-p.done:
		p.Close()
		return nil, fmt.Errorf("ltpeer: driver exited before it was ready: %v", p.dead)
	case <-ctx.Done():
		p.Close()
		return nil, fmt.Errorf("ltpeer: waiting for the driver: %w%s", ctx.Err(), p.stderrTail())
	}

	args := map[string]any{
		"listen":    cfg.Listen,
		"no_dht":    cfg.NoDHT,
		"read_only": cfg.ReadOnly,
		"utp":       cfg.UTP,
		"bootstrap": addrStrings(cfg.Bootstrap),
	}
	var started struct {
		Port    int    `json:"port"`
		Version string `json:"version"`
	}
	if err := p.call(ctx, "start", args, &started); err != nil {
		p.Close()
		return nil, err
	}
	p.port = started.Port
	return p, nil
}

// TB is the part of testing.TB that StartTest needs (an interface, so that
// programs using ltpeer, such as the benchmarks, do not link package testing).
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// StartTest starts a peer for a test: it fails the test (naming the package
// to install) when libtorrent is missing and closes the peer in t.Cleanup.
func StartTest(t TB, cfg Config) *Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStartTimeout)
	defer cancel()
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start libtorrent peer: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Version is libtorrent's version string, e.g. "2.0.8.0".
func (p *Peer) Version() string { return p.version }

// Port is the listen port: TCP and uTP for torrents and UDP for the DHT.
func (p *Peer) Port() int { return p.port }

// Addr is the DHT (UDP) and torrent (TCP) address of the peer on 127.0.0.1.
func (p *Peer) Addr() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(p.port))
}

// Close stops the driver: it closes its stdin, waits DefaultCloseGrace for it
// to exit and kills it otherwise. It is safe to call more than once.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		p.mu.Unlock()
		p.stdin.Close()
		select {
		case <-p.done:
		case <-time.After(DefaultCloseGrace):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return nil
}

// call sends one request and decodes its result into out (may be nil).
func (p *Peer) call(ctx context.Context, cmd string, args map[string]any, out any) error {
	if dl, ok := ctx.Deadline(); ok {
		if args == nil {
			args = map[string]any{}
		}
		// The driver gives up a little after us, so a late answer is never
		// mistaken for a fresh one (ids are never reused anyway).
		args["timeout"] = time.Until(dl).Seconds() + 1
	}
	ch := make(chan response, 1)
	p.mu.Lock()
	if p.dead != nil {
		err := p.dead
		p.mu.Unlock()
		return fmt.Errorf("ltpeer: %s: %w (%v)", cmd, ErrClosed, err)
	}
	p.nextID++
	id := p.nextID
	p.pending[id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
	}()

	line, err := json.Marshal(map[string]any{"id": id, "cmd": cmd, "args": args})
	if err != nil {
		return fmt.Errorf("ltpeer: %s: encode: %w", cmd, err)
	}
	p.writeMu.Lock()
	_, err = p.stdin.Write(append(line, '\n'))
	p.writeMu.Unlock()
	if err != nil {
		return fmt.Errorf("ltpeer: %s: %w (%v)", cmd, ErrClosed, err)
	}
	select {
	case r := <-ch:
		if r.Error != "" {
			return fmt.Errorf("ltpeer: %s", r.Error)
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				return fmt.Errorf("ltpeer: %s: decode result: %w", cmd, err)
			}
		}
		return nil
	case <-p.done:
		return fmt.Errorf("ltpeer: %s: %w (%v)", cmd, ErrClosed, p.dead)
	case <-ctx.Done():
		return fmt.Errorf("ltpeer: %s: %w", cmd, ctx.Err())
	}
}

func (p *Peer) readLoop(stdout io.Reader, ready chan<- response) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	first := true
	for sc.Scan() {
		var r response
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			continue // not ours (a stray print); the protocol lines are JSON
		}
		if first && r.Event != "" {
			first = false
			ready <- r
			continue
		}
		p.mu.Lock()
		ch := p.pending[r.ID]
		p.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
	// stdout ended: the driver exited or is exiting. Wait for it, so the
	// reason (exit status, signal, traceback) is known to every caller.
	readErr := sc.Err()
	waitErr := p.cmd.Wait()
	p.mu.Lock()
	switch {
	case p.closing:
		p.dead = errors.New("closed")
	case readErr != nil:
		p.dead = fmt.Errorf("reading driver output: %v; driver exit: %v%s", readErr, waitErr, p.stderrTail())
	case waitErr != nil:
		p.dead = fmt.Errorf("driver exited: %v%s", waitErr, p.stderrTail())
	default:
		p.dead = fmt.Errorf("driver exited%s", p.stderrTail())
	}
	p.mu.Unlock()
	close(p.done)
}

func (p *Peer) stderrTail() string {
	s := strings.TrimSpace(p.stderr.String())
	if s == "" {
		return ""
	}
	return "; driver stderr: " + s
}

func addrStrings(addrs []netip.AddrPort) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
