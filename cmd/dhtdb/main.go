package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// env is what a command may touch of its process: the standard streams and
// the environment.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// Main runs the command line args (without the program name) and returns the
// exit code: 0 on success, 1 when the command failed, 2 on a usage error.
// SIGINT and SIGTERM cancel the running command, which then exits cleanly.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one kills the process the usual way.
	go func() {
		<-ctx.Done()
		stop()
	}()
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return run(ctx, e, args)
}

// usageError marks an error in the command line itself (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		writeUsage(e.stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		writeUsage(e.stdout)
		return 0
	}
	cmd, rest := findCommand(args)
	if cmd == nil {
		fmt.Fprintf(e.stderr, "dhtdb: unknown command %q (run 'dhtdb help')\n", strings.Join(args[:min(len(args), 2)], " "))
		return 2
	}
	r := cmd.new()
	fs := flag.NewFlagSet("dhtdb "+cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	r.flags(fs)
	pos, err := parseFlags(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		writeCommandUsage(e.stdout, cmd, fs)
		return 0
	}
	if err == nil {
		err = r.run(ctx, e, pos)
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(e.stderr, "dhtdb %s: %s\n", cmd.name, oneLine(err.Error()))
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// parseFlags parses flags anywhere among the arguments (flag stops at the
// first positional one) and returns the positional arguments. Everything
// after "--" is positional.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
