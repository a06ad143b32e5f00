// Command dhtdb is the command line of dhtdb, a database that lives in the
// BitTorrent network. Run `dhtdb help` for the commands.
package main

import (
	"os"

	"github.com/dhtdb/dhtdb/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
