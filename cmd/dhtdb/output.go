package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"
)

// output is the --json switch every command has.
type output struct{ json bool }

func (o *output) register(fs *flag.FlagSet) {
	fs.BoolVar(&o.json, "json", false, "machine-readable output: one JSON object per line")
}

// print writes v as one JSON line with --json, else the text lines.
func (o output) print(w io.Writer, v any, text func(w io.Writer)) error {
	if o.json {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = w.Write(append(b, '\n'))
		return err
	}
	text(w)
	return nil
}

// ms is a duration in milliseconds, for the JSON outputs.
func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
