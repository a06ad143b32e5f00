package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/dhtdb/dhtdb/keyfile"
)

// keygenCmd: dhtdb keygen --out FILE [--no-passphrase].
type keygenCmd struct {
	out        output
	file       string
	plaintext  bool
	workFactor int
}

func (c *keygenCmd) flags(fs *flag.FlagSet) {
	c.out.register(fs)
	fs.StringVar(&c.file, "out", "", "the key file to create (never overwritten)")
	fs.BoolVar(&c.plaintext, "no-passphrase", false, "write the key unencrypted (mode 0600), for automation")
	fs.IntVar(&c.workFactor, "work-factor", keyfile.DefaultWorkFactor, "scrypt work factor (log2 N) of the encryption")
}

type keygenResult struct {
	PublicKey string `json:"public_key"`
	File      string `json:"file"`
	Encrypted bool   `json:"encrypted"`
}

func (c *keygenCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 0 {
		return usagef("unexpected argument %q", args[0])
	}
	if c.file == "" {
		return usagef("--out FILE is required")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	opts := keyfile.WriteOptions{Plaintext: c.plaintext, WorkFactor: c.workFactor}
	if !c.plaintext {
		if opts.Passphrase, err = e.passphrase("passphrase for the new key: ", true); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(c.file), 0o700); err != nil {
		return err
	}
	if err := keyfile.Write(c.file, priv, opts); err != nil {
		return err
	}
	res := keygenResult{PublicKey: hex.EncodeToString(pub), File: c.file, Encrypted: !c.plaintext}
	return c.out.print(e.stdout, res, func(w io.Writer) {
		how := "encrypted with the passphrase"
		if c.plaintext {
			how = "unencrypted, mode 0600"
		}
		fmt.Fprintf(e.stderr, "wrote %s (%s); public key:\n", c.file, how)
		fmt.Fprintln(w, res.PublicKey)
	})
}
