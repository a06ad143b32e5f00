package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
)

// followCmd: dhtdb follow DB: keep a local copy of someone's database.
// With --wait (the default when stdout is a terminal) it waits until the
// newest version known is installed, showing the fetch's progress: a bar
// on a terminal, else plain lines, or JSON lines with --json
// ({"event":"fetch",...}); the status follows as the last line.
type followCmd struct {
	f    dbFlags
	wait optBool
}

func (c *followCmd) flags(fs *flag.FlagSet) {
	c.f.register(fs, true)
	fs.Var(&c.wait, "wait", "wait until the newest version is installed, showing the progress (default: true when stdout is a terminal)")
}

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
	wait := c.wait.v
	if !c.wait.set {
		wait = isTerminal(e.stdout)
	}
	var watch func(daemon.Status)
	var view progressView
	if wait {
		view = newProgressView(e.stdout, c.f.out.json)
		watch = view.update
	}
	st, err := b.Follow(ctx, args[0], watch)
	if view != nil {
		view.finish(st)
	}
	if err != nil {
		return err
	}
	if err := c.f.out.print(e.stdout, st, func(w io.Writer) { writeStatus(w, st) }); err != nil {
		return err
	}
	if wait && !synced(st) {
		return fmt.Errorf("%s not synced: %w", st.Address, context.Cause(ctx))
	}
	return nil
}

// synced says whether the newest version known of a database is installed.
func synced(st daemon.Status) bool { return st.Current != "" && st.Current == st.IH }

// waitPoll is how often a waiting command asks for the status.
const waitPoll = 200 * time.Millisecond

// waitSynced asks status until the database is synced or ctx ends (then it
// returns the last status and ctx's error), calling watch (if set) with
// every status seen.
func waitSynced(ctx context.Context, status func(context.Context) (daemon.Status, error), watch func(daemon.Status)) (daemon.Status, error) {
	var last daemon.Status
	for {
		st, err := status(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return last, ctx.Err()
			}
			return st, err
		}
		last = st
		if watch != nil {
			watch(st)
		}
		if synced(st) {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(waitPoll):
		}
	}
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
