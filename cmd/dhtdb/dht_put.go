package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dhtdb/dhtdb/bep44"
	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/record"
)

// dhtPutCmd: dhtdb dht put [--key FILE [--salt S] [--seq N] [--cas N]] VALUE.
type dhtPutCmd struct {
	out     output
	net     netFlags
	timeout time.Duration
	key     string
	salt    string
	seq     optInt
	cas     optInt
}

func (c *dhtPutCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	c.net.register(fs, "", "local UDP address (default: an ephemeral port)")
	fs.DurationVar(&c.timeout, "timeout", DefaultTimeout, "give up after this long")
	fs.StringVar(&c.key, "key", "", "key file: makes a mutable put signed with this key")
	fs.StringVar(&c.salt, "salt", "", "salt of the mutable item (the database name)")
	fs.Var(&c.seq, "seq", "seq of the mutable item (default: the highest found + 1)")
	fs.Var(&c.cas, "cas", "store only where the current seq is N (mutable)")
}

type putResult struct {
	Target   string         `json:"target"`
	Mutable  bool           `json:"mutable"`
	PubKey   string         `json:"pubkey,omitempty"`
	Salt     *string        `json:"salt,omitempty"`
	Address  string         `json:"address,omitempty"` // dhtdb://KEY/NAME when the salt is a valid name
	Seq      *int64         `json:"seq,omitempty"`
	Stored   int            `json:"stored"`
	Rejected map[string]int `json:"rejected"`
	TimedOut int            `json:"timed_out"`
	Msgs     int            `json:"msgs"`
	Ms       float64        `json:"ms"`
}

func (c *dhtPutCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("want exactly one VALUE, got %d arguments", len(args))
	}
	v := bencodeString(args[0])
	mutable := c.key != ""
	if !mutable && (c.salt != "" || c.seq.set || c.cas.set) {
		return usagef("--salt, --seq and --cas need --key (a mutable put)")
	}
	// Check everything local before touching the network.
	var it bep44.Item
	var err error
	if !mutable {
		if it, err = bep44.NewImmutable(v); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	}
	var priv []byte
	if mutable {
		key, err := e.loadKey(c.key)
		if err != nil {
			return err
		}
		priv = key
		if _, err := bep44.NewMutable(key, []byte(c.salt), 1, v); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	node, err := c.net.joinDHT(ctx, e, true)
	if err != nil {
		return err
	}
	defer node.Close()
	start := time.Now()
	res := putResult{Mutable: mutable}
	if mutable {
		seq := c.seq.v
		if !c.seq.set {
			if seq, err = nextSeq(ctx, node, priv[32:], []byte(c.salt)); err != nil {
				return err
			}
		}
		if it, err = bep44.NewMutable(priv, []byte(c.salt), seq, v); err != nil {
			return fmt.Errorf("value: %w", err)
		}
		salt := c.salt
		res.PubKey, res.Salt, res.Seq = hex.EncodeToString(it.K[:]), &salt, &seq
		res.Address = addressOf(it.K[:], salt)
	}
	rep, err := node.Put(ctx, it, dht.PutOptions{CAS: c.cas.v, HasCAS: c.cas.set})
	res.Target = hex.EncodeToString(rep.Target[:])
	res.Stored, res.TimedOut, res.Msgs = rep.Stored, rep.TimedOut, rep.Msgs
	res.Rejected = rejectedByCode(rep.Rejected)
	res.Ms = ms(time.Since(start))
	if err != nil && rep.Msgs == 0 {
		return err
	}
	// A put that no node stored still prints its report (who refused it and
	// why) before the error line.
	perr := c.out.print(e.stdout, res, func(w io.Writer) {
		fmt.Fprintf(w, "target %s\n", res.Target)
		if res.Address != "" {
			fmt.Fprintf(w, "address %s\n", res.Address)
		}
		if mutable {
			fmt.Fprintf(w, "seq %d\n", *res.Seq)
		}
		fmt.Fprintf(w, "stored on %d nodes (rejected %s, timed out %d, %d queries, %.0f ms)\n",
			res.Stored, formatRejected(res.Rejected), res.TimedOut, res.Msgs, res.Ms)
	})
	if err != nil {
		return err
	}
	return perr
}

// nextSeq returns the highest seq stored for (pub, salt) plus one, or 1 when
// there is none.
func nextSeq(ctx context.Context, node *dht.Node, pub, salt []byte) (int64, error) {
	got, err := node.Get(ctx, dht.GetRequest{PublicKey: pub, Salt: salt})
	if errors.Is(err, dht.ErrNotFound) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("find the current seq: %w", err)
	}
	return got.Item.Seq + 1, nil
}

func rejectedByCode(m map[int]int) map[string]int {
	out := make(map[string]int, len(m))
	for code, n := range m {
		out[strconv.Itoa(code)] = n
	}
	return out
}

func formatRejected(m map[string]int) string {
	if len(m) == 0 {
		return "by none"
	}
	var parts []string
	for code, n := range m {
		parts = append(parts, fmt.Sprintf("%d×%s", n, code))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// addressOf is the dhtdb:// address of a mutable item, or "" when its salt
// is not a database name.
func addressOf(pub []byte, salt string) string {
	a, err := record.NewAddress(pub, salt)
	if err != nil {
		return ""
	}
	return a.String()
}
