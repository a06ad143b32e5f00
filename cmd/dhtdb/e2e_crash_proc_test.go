package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The processes of the crash test (TestCrashKill): `dhtdb serve` daemons
// that the test SIGKILLs and restarts on the same data directory.

// Flags of the crash test's daemons: a fast poll and a short debounce, so
// that polls, fetches and automatic publishes happen within a round.
const (
	crashPoll     = "300ms"
	crashDebounce = "150ms"
)

// crashProc is one `dhtdb serve` process on a data directory. It keeps its
// DHT and torrent ports across restarts (when still free), so the testnet's
// routing tables and the peers' addresses stay valid, as for a daemon a
// supervisor restarts.
type crashProc struct {
	role, dir, boot string
	dhtAddr         string
	torrentAddr     string
	http            string
	starts          int

	cmd    *exec.Cmd
	done   chan struct{}
	stdout *syncBuffer
	stderr *syncBuffer
	client *http.Client
}

// crashStartServe starts a daemon on dir; the test's end kills it if it
// still runs.
func crashStartServe(t *testing.T, role, dir, boot string) *crashProc {
	t.Helper()
	p := &crashProc{role: role, dir: dir, boot: boot, client: &http.Client{Timeout: 90 * time.Second}}
	p.start(t)
	t.Cleanup(func() {
		if p.alive() {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// crashFreeAddr returns a loopback address whose port was free a moment ago.
func crashFreeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the daemon and waits for its "started" line. If a port it
// kept was taken meanwhile, it starts again on fresh ports.
func (p *crashProc) start(t *testing.T) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		if p.dhtAddr == "" || attempt > 0 {
			p.dhtAddr, p.torrentAddr = crashFreeAddr(t, "udp"), crashFreeAddr(t, "tcp")
		}
		err := p.startOnce(t)
		if err == nil {
			p.starts++
			return
		}
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("%s: %v; again on other ports", p.role, err)
			continue
		}
		t.Fatalf("%s: start: %v", p.role, err)
	}
}

func (p *crashProc) startOnce(t *testing.T) error {
	if err := p.launch(t); err != nil {
		return err
	}
	return p.waitStarted()
}

// launch starts the process without waiting for it to be ready.
func (p *crashProc) launch(t *testing.T) error {
	args := []string{"serve", "--data", p.dir, "--bootstrap", p.boot, "--listen", p.dhtAddr,
		"--http", "127.0.0.1:0", "--torrent", p.torrentAddr, "--poll", crashPoll, "--debounce", crashDebounce, "--json"}
	if os.Getenv("DHTDB_CRASH_VERBOSE") != "" {
		args = append(args, "-v")
	}
	p.cmd = exec.Command(dhtdbBinary(t), args...)
	p.stdout, p.stderr = &syncBuffer{}, &syncBuffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	p.done = done
	go func() { p.cmd.Wait(); close(done) }()
	return nil
}

// waitStarted waits for the "started" line.
func (p *crashProc) waitStarted() error {
	done := p.done
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out := p.stdout.String()
		if i := strings.IndexByte(out, '\n'); i >= 0 {
			var ev serveEvent
			if err := json.Unmarshal([]byte(out[:i]), &ev); err != nil || ev.Event != "started" || ev.HTTP == "" {
				return fmt.Errorf("serve printed %q (%v)", out[:i], err)
			}
			p.http = ev.HTTP
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("serve exited (%v): %s", p.cmd.ProcessState, strings.TrimSpace(p.stderr.String()))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			<-done
			return fmt.Errorf("serve not started after 2 minutes: %s", p.stderr.String())
		}
	}
}

func (p *crashProc) alive() bool {
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill SIGKILLs the daemon and waits until it is gone. A daemon that had
// already exited by itself fails the test.
func (p *crashProc) kill(t *testing.T) {
	t.Helper()
	if !p.alive() {
		t.Fatalf("%s exited by itself before the kill (%v): %s", p.role, p.cmd.ProcessState, crashTail(p.stderr.String()))
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s: not killed by SIGKILL: %v: %s", p.role, p.cmd.ProcessState, crashTail(p.stderr.String()))
	}
}

// stop interrupts the daemon, which must exit cleanly.
func (p *crashProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not stop on SIGINT", p.role)
	}
	if !p.cmd.ProcessState.Success() {
		t.Errorf("%s: exit %v: %s", p.role, p.cmd.ProcessState, crashTail(p.stderr.String()))
	}
}

// call sends one API request; out receives the JSON answer.
func (p *crashProc) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+p.http+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return &crashAPIError{status: resp.StatusCode, body: strings.TrimSpace(string(b))}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// crashAPIError is an answer of the daemon other than 200: the daemon ran
// the request and refused it (as opposed to a connection cut by a kill).
type crashAPIError struct {
	status int
	body   string
}

func (e *crashAPIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

func crashIsAPIError(err error) bool {
	var ae *crashAPIError
	return errors.As(err, &ae)
}

// crashCLI runs one dhtdb command and returns its stdout; a failure is an
// error (safe to call from any goroutine).
func crashCLI(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader("")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("dhtdb %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// crashTail is the end of a long log.
func crashTail(s string) string {
	const n = 3000
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
