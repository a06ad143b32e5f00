package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestDefaultDataDir(t *testing.T) {
	env := map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "/xdg", dataEnv: "/explicit"}
	get := func(k string) string { return env[k] }
	if d, err := defaultDataDir(get); err != nil || d != "/explicit" {
		t.Errorf("with %s: %q %v", dataEnv, d, err)
	}
	if runtime.GOOS != "linux" {
		t.Skip("the rest is the Linux layout")
	}
	delete(env, dataEnv)
	if d, _ := defaultDataDir(get); d != filepath.Join("/xdg", "dhtdb") {
		t.Errorf("with XDG_DATA_HOME: %q", d)
	}
	delete(env, "XDG_DATA_HOME")
	if d, _ := defaultDataDir(get); d != "/home/u/.local/share/dhtdb" {
		t.Errorf("with HOME: %q", d)
	}
	delete(env, "HOME")
	if _, err := defaultDataDir(get); err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("without HOME: %v", err)
	}
}

// A daemon.json left by a daemon that is gone does not stop the commands:
// they work on the data directory.
func TestStaleDaemonInfo(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte(`{"http":"`+dead+`","pid":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{stdin: strings.NewReader(""), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	b, err := openBackend(context.Background(), e, dir, netFlags{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, ok := b.(*localBackend); !ok {
		t.Fatalf("backend %T, want the data directory", b)
	}
	if sts, err := b.List(context.Background()); err != nil || len(sts) != 0 {
		t.Fatalf("list: %v %v", sts, err)
	}
}
