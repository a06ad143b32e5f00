package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/dhtdb/dhtdb/daemon"
)

// statusCmd: dhtdb status [DB]: versions, seq, sync state; every database
// without DB (one JSON object per line).
type statusCmd struct{ f dbFlags }

func (c *statusCmd) flags(fs *flag.FlagSet) { c.f.register(fs, false) }

func (c *statusCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) > 1 {
		return usagef("want at most one DB")
	}
	b, ctx, cancel, err := c.f.open(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	defer b.Close()
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
