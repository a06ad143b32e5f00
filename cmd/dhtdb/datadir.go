package main

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"runtime"
)

// dataEnv names the environment variable that sets the default data
// directory.
const dataEnv = "DHTDB_DATA"

// dataFlag is --data DIR, the data directory of the database commands.
type dataFlag struct{ dir string }

func (f *dataFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "data", "", "data directory (default: $"+dataEnv+", else the user's data directory)/dhtdb")
}

// path returns --data or the default data directory.
func (f *dataFlag) path(e *env) (string, error) {
	if f.dir != "" {
		return f.dir, nil
	}
	return defaultDataDir(e.getenv)
}

// defaultDataDir is $DHTDB_DATA, else dhtdb in the user's data directory:
// $XDG_DATA_HOME or ~/.local/share on Unix, ~/Library/Application Support on
// macOS, %LocalAppData% on Windows.
func defaultDataDir(getenv func(string) string) (string, error) {
	if d := getenv(dataEnv); d != "" {
		return d, nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" && runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		return filepath.Join(d, "dhtdb"), nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "dhtdb"), nil
		}
		return "", errors.New("no data directory: %LocalAppData% is not set; pass --data DIR")
	case "darwin":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "Library", "Application Support", "dhtdb"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("no data directory: $HOME is not set; pass --data DIR")
	}
	return filepath.Join(home, ".local", "share", "dhtdb"), nil
}
