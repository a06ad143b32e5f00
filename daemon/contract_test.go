package daemon

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/record"
)

// testPointers is the contract every Pointers implementation meets: the
// in-memory fake of the runner tests and Network over a real DHT node.
func testPointers(t *testing.T, p Pointers) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, key, _ := ed25519.GenerateKey(nil)
	addr, _ := record.NewAddress(key.Public().(ed25519.PublicKey), "contract")
	if _, _, err := p.Get(ctx, addr, 0); !errors.Is(err, ErrNoPointer) {
		t.Fatalf("get of a missing pointer: %v, want ErrNoPointer", err)
	}
	item := func(seq int64, v string) bep44.Item {
		it, err := bep44.NewMutable(key, addr.Salt(), seq, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
	res, err := p.Put(ctx, item(1, "1:a"), 0, false)
	if err != nil || res.Stored == 0 {
		t.Fatalf("first put: %+v %v", res, err)
	}
	it, found, err := p.Get(ctx, addr, 0)
	if err != nil || it.Seq != 1 || string(it.V) != "1:a" || found == 0 {
		t.Fatalf("get: seq %d v %q found %d %v", it.Seq, it.V, found, err)
	}
	// Unchanged: a get with the held seq finds it (the value may be left out).
	it, found, err = p.Get(ctx, addr, 1)
	if err != nil || it.Seq != 1 || found == 0 || (len(it.V) != 0 && string(it.V) != "1:a") {
		t.Fatalf("get with min seq 1: seq %d v %q found %d %v", it.Seq, it.V, found, err)
	}
	if _, _, err := p.Get(ctx, addr, 2); !errors.Is(err, ErrNoPointer) {
		t.Fatalf("get with min seq 2: %v, want ErrNoPointer", err)
	}
	res, err = p.Put(ctx, item(2, "1:b"), 1, true)
	if err != nil || res.Stored == 0 {
		t.Fatalf("put seq 2 cas 1: %+v %v", res, err)
	}
	// A replay of seq 1 and a put with a stale cas are refused everywhere.
	if res, err := p.Put(ctx, item(1, "1:a"), 0, false); err == nil || res.Stored != 0 || res.Rejected[bep44.CodeSeqTooLow] == 0 {
		t.Errorf("replayed seq 1: %+v %v, want refused with 302", res, err)
	}
	if res, err := p.Put(ctx, item(3, "1:c"), 1, true); err == nil || res.Stored != 0 || res.Rejected[bep44.CodeCASMismatch] == 0 {
		t.Errorf("put seq 3 with cas 1: %+v %v, want refused with 301", res, err)
	}
	if it, _, err := p.Get(ctx, addr, 0); err != nil || it.Seq != 2 || string(it.V) != "1:b" {
		t.Errorf("get after refused puts: seq %d v %q %v, want seq 2", it.Seq, it.V, err)
	}
}

func TestPointersContractFake(t *testing.T) { testPointers(t, newFakeDHT(8)) }

func TestPointersContractNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	boot := testnet(t, 8)
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	node, err := dht.New(dht.Config{Conn: conn, Bootstrap: boot})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	testPointers(t, &Network{DHT: node})
}
