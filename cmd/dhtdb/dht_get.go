package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dhtdb/dhtdb/dht"
	"github.com/dhtdb/dhtdb/record"
)

// dhtGetCmd: dhtdb dht get TARGET | --pubkey HEX [--salt S] | ADDRESS.
type dhtGetCmd struct {
	out     output
	net     netFlags
	timeout time.Duration
	pubkey  string
	salt    string
}

func (c *dhtGetCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	c.net.register(fs, "", "local UDP address (default: an ephemeral port)")
	fs.DurationVar(&c.timeout, "timeout", DefaultTimeout, "give up after this long")
	fs.StringVar(&c.pubkey, "pubkey", "", "public key (64 hex): a mutable get")
	fs.StringVar(&c.salt, "salt", "", "salt of the mutable item (the database name)")
}

type getResult struct {
	Target  string  `json:"target"`
	Mutable bool    `json:"mutable"`
	PubKey  string  `json:"pubkey,omitempty"`
	Salt    *string `json:"salt,omitempty"`
	Address string  `json:"address,omitempty"` // dhtdb://KEY/NAME when the salt is a valid name
	Seq     *int64  `json:"seq,omitempty"`
	Sig     string  `json:"sig,omitempty"`
	shownValue
	Found   int     `json:"found"`
	Closest int     `json:"closest"`
	Msgs    int     `json:"msgs"`
	Ms      float64 `json:"ms"`
}

// request turns the arguments into a GetRequest: a 40-hex target, a dhtdb://
// or magnet address, or --pubkey with --salt.
func (c *dhtGetCmd) request(args []string) (dht.GetRequest, error) {
	var req dht.GetRequest
	switch {
	case c.pubkey != "" && len(args) == 0:
		pub, err := record.ParsePublicKey(c.pubkey)
		if err != nil {
			return req, usagef("--pubkey: %w", err)
		}
		req.PublicKey, req.Salt = pub[:], []byte(c.salt)
		return req, nil
	case c.pubkey != "":
		return req, usagef("give either TARGET or --pubkey, not both")
	case c.salt != "":
		return req, usagef("--salt needs --pubkey")
	case len(args) != 1:
		return req, usagef("want TARGET (40 hex), a dhtdb:// or magnet address, or --pubkey HEX [--salt S]")
	}
	if strings.Contains(args[0], ":") {
		a, err := record.ParseAddress(args[0])
		if err != nil {
			return req, usageError{err}
		}
		req.PublicKey, req.Salt = a.PublicKey[:], a.Salt()
		return req, nil
	}
	b, err := hex.DecodeString(args[0])
	if err != nil || len(b) != 20 {
		return req, usagef("target %q: want 40 hex characters, a dhtdb:// or magnet address", clip(args[0]))
	}
	req.Target = [20]byte(b)
	return req, nil
}

func (c *dhtGetCmd) run(ctx context.Context, e *env, args []string) error {
	req, err := c.request(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	node, err := c.net.joinDHT(ctx, e, true)
	if err != nil {
		return err
	}
	defer node.Close()
	start := time.Now()
	got, err := node.Get(ctx, req)
	if err != nil {
		return err
	}
	it := got.Item
	target := it.Target()
	res := getResult{
		Target: hex.EncodeToString(target[:]), Mutable: it.Mutable, shownValue: showValue(it.V),
		Found: got.Found, Closest: got.Closest, Msgs: got.Msgs, Ms: ms(time.Since(start)),
	}
	if it.Mutable {
		salt, seq := string(it.Salt), it.Seq
		res.PubKey, res.Salt, res.Seq, res.Sig = hex.EncodeToString(it.K[:]), &salt, &seq, hex.EncodeToString(it.Sig[:])
		res.Address = addressOf(it.K[:], salt)
	}
	return c.out.print(e.stdout, res, func(w io.Writer) {
		fmt.Fprintf(w, "value %s\n", res.text())
		if res.Record != nil {
			fmt.Fprintf(w, "record ih %x, %d earlier versions, size %d, t %s\n", res.Record.IH, len(res.Record.Prev),
				res.Record.Size, time.Unix(res.Record.T, 0).UTC().Format(time.RFC3339))
		}
		if it.Mutable {
			fmt.Fprintf(w, "seq %d\n", *res.Seq)
		}
		fmt.Fprintf(w, "target %s: found on %d of %d closest nodes (%d queries, %.0f ms)\n",
			res.Target, res.Found, res.Closest, res.Msgs, res.Ms)
	})
}

// clip shortens user input quoted in an error.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
