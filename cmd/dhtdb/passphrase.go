package main

import (
	"bufio"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/dhtdb/dhtdb/keyfile"
)

// passphraseEnv names the environment variable that supplies the key
// passphrase without a prompt.
const passphraseEnv = "DHTDB_PASSPHRASE"

// passphrase returns the key passphrase: from DHTDB_PASSPHRASE, else from a
// prompt without echo when stdin is a terminal (twice when confirm), else
// from the first line of stdin.
func (e *env) passphrase(prompt string, confirm bool) (string, error) {
	if p := e.getenv(passphraseEnv); p != "" {
		return p, nil
	}
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p, err := readHidden(f, e.stderr, prompt)
		if err != nil {
			return "", err
		}
		if confirm {
			again, err := readHidden(f, e.stderr, "again: ")
			if err != nil {
				return "", err
			}
			if again != p {
				return "", errors.New("the passphrases differ")
			}
		}
		if p == "" {
			return "", errors.New("empty passphrase (use --no-passphrase for a plaintext key)")
		}
		return p, nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read passphrase: %w", err)
		}
		return "", fmt.Errorf("no passphrase: set %s, type it at a terminal, or give it on stdin", passphraseEnv)
	}
	return line, nil
}

func readHidden(f *os.File, w io.Writer, prompt string) (string, error) {
	fmt.Fprint(w, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("read passphrase: %w", err)
	}
	return string(b), nil
}

// loadKey reads a key file, asking for its passphrase if it is encrypted.
func (e *env) loadKey(path string) (ed25519.PrivateKey, error) {
	return keyfile.Load(path, func() (string, error) {
		return e.passphrase("passphrase for "+path+": ", false)
	})
}
