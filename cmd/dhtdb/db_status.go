package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/dhtdb/dhtdb/daemon"
)

// statusCmd: dhtdb status [DB]: versions, seq, sync state; every database
// without DB (one JSON object per line). --watch DB prints the status of a
// database again whenever it changes, with the progress of its fetches,
// until interrupted.
type statusCmd struct {
	f     dbFlags
	watch bool
}

func (c *statusCmd) flags(fs *flag.FlagSet) {
	c.f.register(fs, false)
	fs.BoolVar(&c.watch, "watch", false, "print the status of DB again whenever it changes, until interrupted (needs a running daemon)")
}

func (c *statusCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) > 1 || c.watch && len(args) != 1 {
		return usagef("want at most one DB (exactly one with --watch)")
	}
	b, ctx, cancel, err := c.f.open(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	defer b.Close()
	if c.watch {
		return c.watchStatus(ctx, e, b, args[0])
	}
	var sts []daemon.Status
	if len(args) == 1 {
		st, err := b.Status(ctx, args[0])
		if err != nil {
			return err
		}
		sts = append(sts, st)
	} else if sts, err = b.List(ctx); err != nil {
		return err
	}
	for _, st := range sts {
		if err := c.f.out.print(e.stdout, st, func(w io.Writer) { writeStatus(w, st) }); err != nil {
			return err
		}
	}
	return nil
}

// watchStatus prints the status of ref whenever it changes, until ctx ends
// (an interrupt: exit 0). In text, the status line is printed when it
// changes and the fetch's progress as lines of its own; in JSON, the status
// object (with its "fetch") whenever anything in it changed.
func (c *statusCmd) watchStatus(ctx context.Context, e *env, b backend, ref string) error {
	if _, ok := b.(*apiBackend); !ok {
		return errors.New("status --watch needs a running daemon (dhtdb serve)")
	}
	var last, lastLine, lastFetch string
	for {
		st, err := b.Status(ctx, ref)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if c.f.out.json {
			if key, _ := json.Marshal(st); string(key) != last {
				last = string(key)
				if err := c.f.out.print(e.stdout, st, nil); err != nil {
					return err
				}
			}
		} else {
			var line bytes.Buffer
			writeStatus(&line, st)
			if line.String() != lastLine {
				lastLine = line.String()
				e.stdout.Write(line.Bytes())
			}
			if st.Fetch != nil {
				if f := fetchLine(*st.Fetch); f != lastFetch {
					lastFetch = f
					fmt.Fprintln(e.stdout, f)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(plainEvery):
		}
	}
}

// writeStatus is the text form of a status: one line.
func writeStatus(w io.Writer, st daemon.Status) {
	fmt.Fprintf(w, "%s %s seq %d", st.Address, st.Role, st.Seq)
	if st.IH != "" {
		fmt.Fprintf(w, " ih %s", st.IH)
	}
	switch {
	case st.Current == "" && st.IH != "":
		fmt.Fprint(w, " (no local version yet)")
	case st.Current != "" && st.Current != st.IH:
		fmt.Fprintf(w, " local %s (%d versions behind)", st.Current, st.Behind)
	case st.Current != "":
		fmt.Fprint(w, " (in sync)")
	}
	for _, x := range []struct{ what, err string }{{"poll", st.LastPollErr}, {"put", st.LastPutErr}, {"publish", st.PublishErr}} {
		if x.err != "" {
			fmt.Fprintf(w, "; last %s failed: %s", x.what, oneLine(x.err))
		}
	}
	fmt.Fprintln(w)
}
