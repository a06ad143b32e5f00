package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// publishCmd: dhtdb publish DB: the local copy becomes the next version.
type publishCmd struct{ f dbFlags }

func (c *publishCmd) flags(fs *flag.FlagSet) { c.f.register(fs, true) }

func (c *publishCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("want exactly one DB")
	}
	b, ctx, cancel, err := c.f.open(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	defer b.Close()
	rep, err := b.Publish(ctx, args[0])
	if err != nil {
		return err
	}
	return c.f.out.print(e.stdout, rep, func(w io.Writer) {
		if rep.Unchanged {
			fmt.Fprintf(w, "unchanged since seq %d (ih %s)\n", rep.Seq, rep.IH)
			return
		}
		fmt.Fprintf(w, "published seq %d: ih %s, %d bytes, pointer stored on %d nodes\n", rep.Seq, rep.IH, rep.Size, rep.Put.Stored)
	})
}
