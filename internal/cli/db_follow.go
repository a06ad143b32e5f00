package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// followCmd: dhtdb follow DB: keep a local copy of someone's database.
type followCmd struct{ f dbFlags }

func (c *followCmd) flags(fs *flag.FlagSet) { c.f.register(fs, true) }

func (c *followCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("want exactly one DB (a dhtdb:// address or magnet)")
	}
	if !isAddress(args[0]) {
		return usagef("follow needs a dhtdb:// address or magnet, not a local name")
	}
	b, ctx, cancel, err := c.f.open(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	defer b.Close()
	st, err := b.Follow(ctx, args[0])
	if err != nil {
		return err
	}
	return c.f.out.print(e.stdout, st, func(w io.Writer) { writeStatus(w, st) })
}

// unfollowCmd: dhtdb unfollow DB.
type unfollowCmd struct{ f dbFlags }

func (c *unfollowCmd) flags(fs *flag.FlagSet) { c.f.register(fs, false) }

func (c *unfollowCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("want exactly one DB")
	}
	b, ctx, cancel, err := c.f.open(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	defer b.Close()
	if err := b.Unfollow(ctx, args[0]); err != nil {
		return err
	}
	res := map[string]string{"unfollowed": args[0]}
	return c.f.out.print(e.stdout, res, func(w io.Writer) { fmt.Fprintf(w, "unfollowed %s\n", args[0]) })
}
