package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestDHTNodeProcess runs `dhtdb dht node` joined to a testnet, stores an
// item through it as the only bootstrap, and stops it with SIGINT.
func TestDHTNodeProcess(t *testing.T) {
	boot := startTestnet(t, 20)
	cmd := exec.Command(dhtdbBinary(t), "dht", "node", "--listen", "127.0.0.1:0", "--bootstrap", boot, "--json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	events := make(chan nodeEvent, 4)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev nodeEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev.Event = "undecodable output: " + sc.Text()
			}
			events <- ev
		}
	}()
	next := func() nodeEvent {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("dht node stopped printing; stderr: %s", stderr.String())
			}
			return ev
		case <-time.After(2 * time.Minute):
			t.Fatalf("dht node printed nothing; stderr: %s", stderr.String())
		}
		return nodeEvent{}
	}
	started := next()
	if started.Event != "started" || len(started.ID) != 40 || started.Nodes == 0 {
		t.Fatalf("started event %+v", started)
	}
	var put putResult
	ok(t, &put, nil, "dht", "put", "--bootstrap", started.Addr, "--json", "via the node")
	var get getResult
	ok(t, &get, nil, "dht", "get", "--bootstrap", started.Addr, "--json", put.Target)
	if get.Value == nil || *get.Value != "via the node" {
		t.Fatalf("get through the node: %+v", get)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	stopped := next()
	if stopped.Event != "stopped" || stopped.PacketsIn == 0 || stopped.ID != started.ID {
		t.Fatalf("stopped event %+v", stopped)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("dht node exit: %v; stderr: %s", err, stderr.String())
	}
}
