package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/dhtdb/dhtdb/db"
)

// execCmd: dhtdb exec DB SQL [ARG...]: a write on the local copy of a
// database this node owns.
type execCmd struct{ f dbFlags }

func (c *execCmd) flags(fs *flag.FlagSet) { c.f.register(fs, false) }

func (c *execCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) < 2 {
		return usagef("want DB SQL [ARG...]")
	}
	b, ctx, cancel, err := c.f.open(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	defer b.Close()
	res, err := b.Exec(ctx, args[0], args[1], sqlArgs(args[2:]))
	if err != nil {
		return err
	}
	return c.f.out.print(e.stdout, res, func(w io.Writer) {
		fmt.Fprintf(w, "%d rows changed, last insert id %d\n", res.Changes, res.LastInsertID)
	})
}

// queryCmd: dhtdb query DB SQL [ARG...]: a read on the local copy.
type queryCmd struct{ f dbFlags }

func (c *queryCmd) flags(fs *flag.FlagSet) { c.f.register(fs, false) }

func (c *queryCmd) run(ctx context.Context, e *env, args []string) error {
	if len(args) < 2 {
		return usagef("want DB SQL [ARG...]")
	}
	b, ctx, cancel, err := c.f.open(ctx, e)
	if err != nil {
		return err
	}
	defer cancel()
	defer b.Close()
	rows, err := b.Query(ctx, args[0], args[1], sqlArgs(args[2:]))
	if err != nil {
		return err
	}
	return c.f.out.print(e.stdout, rows, func(w io.Writer) { writeRows(w, rows) })
}

// sqlArgs passes the command line's arguments as text; SQLite's column
// affinity converts them where a column wants a number.
func sqlArgs(args []string) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}

// writeRows prints a result as a table: a header, then one line per row.
func writeRows(w io.Writer, rows db.Rows) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(rows.Columns, "\t"))
	for _, r := range rows.Rows {
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = cellText(v)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case []byte:
		return fmt.Sprintf("x'%x'", x)
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}
