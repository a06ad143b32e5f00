package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// createCmd: dhtdb create NAME [--key FILE].
type createCmd struct {
	f   dbFlags
	key string
}

func (c *createCmd) flags(fs *flag.FlagSet) {
	c.f.register(fs, false)
	fs.StringVar(&c.key, "key", "", "the owner's key file (default: DATA/owner.key)")
}

func (c *createCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("want exactly one NAME")
	}
	key := c.key
	if key == "" {
		dir, err := c.f.data.path(e)
		if err != nil {
			return err
		}
		key = filepath.Join(dir, "owner.key")
		if _, err := os.Stat(key); err != nil {
			return fmt.Errorf("no key: pass --key FILE, or make one with dhtdb keygen --out %s", key)
		}
	}
	b, ctx, cancel, err := c.f.open(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	defer b.Close()
	st, err := b.Create(ctx, args[0], absPath(key))
	if err != nil {
		return err
	}
	return c.f.out.print(e.stdout, st, func(w io.Writer) {
		fmt.Fprintln(w, st.Address)
		fmt.Fprintf(e.stderr, "created; also named %s\n", st.Magnet)
	})
}
