// Command dhtdb is the command line of dhtdb, a database that lives in the
// BitTorrent network. Run `dhtdb help` for the commands.
//
// Main parses the arguments, runs one subcommand and returns the process exit
// code. Each subcommand is one small type in its own file (keygen.go,
// dht_put.go, ...) implementing runner: it registers its flags on a standard
// flag.FlagSet and runs with the parsed arguments. The table in commands.go
// lists them and is what the usage text shows. Every command takes --json (one
// JSON object per line on stdout) and reports failure as one line on stderr
// with a non-zero exit code: 1 for a failed command, 2 for a usage error.
//
// Commands that join the DHT take --bootstrap host:port,...; its default is
// the public Mainline routers, which only a user's own commands ever use:
// tests, `testnet` and `demo` run on loopback nodes.
package main
