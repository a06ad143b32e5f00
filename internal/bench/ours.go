package bench

import (
	"context"
	"math/rand/v2"
	"net"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht"
)

// oursImpl runs our dht nodes with their default configuration (background
// maintenance on), each with a random source derived from the seed.
type oursImpl struct{}

type oursNode struct{ n *dht.Node }

func (oursImpl) start(_ int, conn net.PacketConn, id [20]byte, seed uint64) (benchNode, error) {
	n, err := dht.New(dht.Config{
		Conn: conn,
		ID:   id,
		Rand: rand.New(rand.NewPCG(seed, seed^0x6f757273)),
	})
	if err != nil {
		return nil, err
	}
	return oursNode{n}, nil
}

// learn pings the contacts; those that answer enter the routing table.
func (o oursNode) learn(ctx context.Context, contacts []contact) {
	parallel(ctx, len(contacts), learnConcurrency, func(i int) {
		o.n.Ping(ctx, contacts[i].addr) //nolint:errcheck // a lost ping leaves one contact out
	})
}

func (o oursNode) put(ctx context.Context, it bep44.Item) (int, error) {
	rep, err := o.n.Put(ctx, it, dht.PutOptions{})
	return rep.Stored, err
}

func (o oursNode) get(ctx context.Context, pub [32]byte, salt []byte) ([]byte, int64, error) {
	res, err := o.n.Get(ctx, dht.GetRequest{PublicKey: pub[:], Salt: salt})
	if err != nil {
		return nil, 0, err
	}
	return res.Item.V, res.Item.Seq, nil
}

func (oursImpl) origin(int) bool { return true }

func (o oursNode) tableSize() int { return o.n.Stats().Nodes }

func (o oursNode) close() { o.n.Close() }
