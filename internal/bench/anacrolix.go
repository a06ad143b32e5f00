package bench

import (
	"context"
	"errors"
	"net"

	adht "github.com/anacrolix/dht/v2"
	abep44 "github.com/anacrolix/dht/v2/bep44"
	"github.com/anacrolix/dht/v2/exts/getput"
	alog "github.com/anacrolix/log"
	"golang.org/x/time/rate"

	"github.com/dhtdb/dhtdb/bep44"
)

// anacrolixImpl runs anacrolix/dht v2.24.0 servers, configured as described
// in doc.go.
type anacrolixImpl struct{}

type anacrolixNode struct{ s *adht.Server }

// quiet keeps getput's per-query warnings out of the benchmark's output.
func quiet(ctx context.Context) context.Context {
	return alog.ContextWithLogger(ctx, alog.Default.FilterLevel(alog.Disabled))
}

func (anacrolixImpl) start(_ int, conn net.PacketConn, id [20]byte, _ uint64) (benchNode, error) {
	cfg := adht.NewDefaultServerConfig()
	cfg.Conn = conn
	cfg.NodeId = id
	cfg.NoSecurity = true
	// Per-server and unlimited: the default is one limiter for the process.
	cfg.SendLimiter = rate.NewLimiter(rate.Inf, 0)
	cfg.Logger = alog.Default.FilterLevel(alog.Disabled)
	// The table is filled by learn; never fall back on the public routers.
	cfg.StartingNodes = func() ([]adht.Addr, error) { return nil, errors.New("no starting nodes in the benchmark") }
	s, err := adht.NewServer(cfg)
	if err != nil {
		return nil, err
	}
	return anacrolixNode{s}, nil
}

// learn pings the contacts: a node that answers enters the table as a
// "good" node. (AddNode alone would insert it without an answer, and
// anacrolix never hands out nodes that have not answered it.)
func (n anacrolixNode) learn(ctx context.Context, contacts []contact) {
	parallel(ctx, len(contacts), learnConcurrency, func(i int) {
		n.s.Ping(net.UDPAddrFromAddrPort(contacts[i].addr))
	})
}

func (n anacrolixNode) put(ctx context.Context, it bep44.Item) (int, error) {
	k := it.K
	put := abep44.Put{V: bencodedString(it.V), K: &k, Salt: it.Salt, Seq: it.Seq, Sig: it.Sig}
	_, err := getput.Put(quiet(ctx), it.Target(), n.s, it.Salt, func(int64) abep44.Put { return put })
	return -1, err // getput.Put does not say where it stored
}

func (n anacrolixNode) get(ctx context.Context, pub [32]byte, salt []byte) ([]byte, int64, error) {
	res, _, err := getput.Get(quiet(ctx), bep44.MutableTarget(pub, salt), n.s, nil, salt)
	if err != nil {
		return nil, 0, err
	}
	if !res.Mutable {
		return nil, 0, errors.New("immutable result")
	}
	return res.V, res.Seq, nil
}

func (anacrolixImpl) origin(int) bool { return true }

func (n anacrolixNode) tableSize() int { return n.s.Stats().Nodes }

func (n anacrolixNode) close() { n.s.Close() }

// bencodedString turns the benchmark's values (bencoded byte strings) back
// into the Go string anacrolix bencodes again, so that both libraries sign
// and send the same bytes.
func bencodedString(v []byte) string {
	for i, c := range v {
		if c == ':' {
			return string(v[i+1:])
		}
	}
	return string(v)
}
