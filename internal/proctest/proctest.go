// Package proctest builds the dhtdb binary for the tests that run it as a
// user would: real processes (testnet, serve, the CLI) on loopback.
//
// A test package declares one Builder, asks it for the binary in each test
// that needs it (the build runs once per test process), and removes the build
// in TestMain:
//
//	var bin proctest.Builder
//
//	func TestMain(m *testing.M) { code := m.Run(); bin.Cleanup(); os.Exit(code) }
//
//	func TestX(t *testing.T) { path := bin.Binary(t); ... }
package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Package is the import path of the command the Builder builds.
const Package = "github.com/dhtdb/dhtdb/cmd/dhtdb"

// Builder builds cmd/dhtdb once, statically (CGO_ENABLED=0, as users build
// it), into a temporary directory. Its zero value is ready to use.
type Builder struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Binary returns the path of the built binary, building it on first use. It
// skips the test under -short (building and running processes is slow) and
// fails it when the build fails.
func (b *Builder) Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the dhtdb binary")
	}
	b.once.Do(b.build)
	if b.err != nil {
		t.Fatalf("build dhtdb: %v", b.err)
	}
	return b.path
}

func (b *Builder) build() {
	b.dir, b.err = os.MkdirTemp("", "dhtdb-bin-")
	if b.err != nil {
		return
	}
	b.path = filepath.Join(b.dir, "dhtdb")
	cmd := exec.Command("go", "build", "-o", b.path, Package)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.err = fmt.Errorf("%w: %s", err, out)
	}
}

// Cleanup removes the built binary. Call it from TestMain after m.Run.
func (b *Builder) Cleanup() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
