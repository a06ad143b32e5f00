package keyfile

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Header is the first line of the key text (plaintext file, or the payload of
// an encrypted one). The version number changes if the format ever does.
const Header = "dhtdb-ed25519-key v1"

// DefaultWorkFactor is the scrypt work factor (log2 N) used to encrypt a key
// when WriteOptions.WorkFactor is 0: age's own default, about a second of work.
const DefaultWorkFactor = 18

// MaxWorkFactor is the largest scrypt work factor Write accepts and Load will
// spend time on (age's default limit for decryption).
const MaxWorkFactor = 22

// maxFileSize bounds what Load reads: a key file is a few hundred bytes.
const maxFileSize = 64 << 10

// Errors callers branch on. Returned errors wrap them.
var (
	ErrExists             = errors.New("key file already exists")
	ErrWrongPassphrase    = errors.New("wrong passphrase")
	ErrFormat             = errors.New("not a dhtdb key file")
	ErrInsecurePermission = errors.New("plaintext key file is readable by others")
	ErrNoPassphrase       = errors.New("no passphrase")
)

// WriteOptions says how Write protects the key.
type WriteOptions struct {
	// Passphrase encrypts the key (age scrypt). Required unless Plaintext is set.
	Passphrase string
	// Plaintext writes the key unencrypted (mode 0600). It must be asked for
	// explicitly; it cannot be combined with a Passphrase.
	Plaintext bool
	// WorkFactor is the scrypt work factor, log2 N, 1..MaxWorkFactor.
	// 0 means DefaultWorkFactor. Tests lower it; users should not.
	WorkFactor int
}

func (o WriteOptions) withDefaults() WriteOptions {
	if o.WorkFactor == 0 {
		o.WorkFactor = DefaultWorkFactor
	}
	return o
}

func (o WriteOptions) validate() error {
	switch {
	case o.Plaintext && o.Passphrase != "":
		return errors.New("both a passphrase and plaintext asked for")
	case !o.Plaintext && o.Passphrase == "":
		return fmt.Errorf("%w: an encrypted key needs a passphrase (or ask for plaintext)", ErrNoPassphrase)
	case o.WorkFactor < 1 || o.WorkFactor > MaxWorkFactor:
		return fmt.Errorf("work factor %d out of range 1..%d", o.WorkFactor, MaxWorkFactor)
	}
	return nil
}

// Encode returns the plaintext key text of priv.
func Encode(priv ed25519.PrivateKey) []byte {
	pub := priv.Public().(ed25519.PublicKey)
	return fmt.Appendf(nil, "%s\nseed %x\npublic %x\n", Header, priv.Seed(), []byte(pub))
}

// Encrypt returns priv's key text encrypted to passphrase, ASCII-armored.
func Encrypt(priv ed25519.PrivateKey, passphrase string, workFactor int) ([]byte, error) {
	o := WriteOptions{Passphrase: passphrase, WorkFactor: workFactor}.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	r.SetWorkFactor(o.WorkFactor)
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	if _, err := w.Write(Encode(priv)); err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("encrypt key: %w", err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// Write stores priv in a new file at path, mode 0600, encrypted unless
// opts.Plaintext. It never overwrites: an existing path gives ErrExists.
func Write(path string, priv ed25519.PrivateKey, opts WriteOptions) error {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return err
	}
	if len(priv) != ed25519.PrivateKeySize {
		return fmt.Errorf("write key: private key is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
	}
	data := Encode(priv)
	if !opts.Plaintext {
		var err error
		if data, err = Encrypt(priv, opts.Passphrase, opts.WorkFactor); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("write key %s: %w", path, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write key %s: %w", path, err)
	}
	return nil
}

// Load reads the key file at path. passphrase is called only when the file is
// encrypted; it may be nil when only plaintext keys are expected. A plaintext
// key file that group or others may read is refused (ErrInsecurePermission).
func Load(path string, passphrase func() (string, error)) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("load key %s: %w: not a regular file", path, ErrFormat)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("load key %s: %w: file too large", path, ErrFormat)
	}
	if bytes.HasPrefix(data, []byte(Header)) && runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("load key %s: %w (mode %04o): chmod 600 it", path, ErrInsecurePermission, st.Mode().Perm())
	}
	priv, err := Decode(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	return priv, nil
}

// IsEncrypted reports whether data looks like an age-encrypted key file.
func IsEncrypted(data []byte) bool {
	return bytes.HasPrefix(data, []byte(armor.Header)) || bytes.HasPrefix(data, []byte("age-encryption.org/"))
}

// Decode parses key file contents: plaintext key text, or an age file
// (armored or binary) encrypted to a passphrase, which it asks passphrase for.
func Decode(data []byte, passphrase func() (string, error)) (ed25519.PrivateKey, error) {
	switch {
	case bytes.HasPrefix(data, []byte(Header)):
		return parse(data)
	case IsEncrypted(data):
		if passphrase == nil {
			return nil, fmt.Errorf("%w: key is encrypted", ErrNoPassphrase)
		}
		pass, err := passphrase()
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		if pass == "" {
			return nil, fmt.Errorf("%w: key is encrypted", ErrNoPassphrase)
		}
		text, err := decrypt(data, pass)
		if err != nil {
			return nil, err
		}
		return parse(text)
	default:
		return nil, fmt.Errorf("%w: want a %q or age-encrypted file", ErrFormat, Header)
	}
}

func decrypt(data []byte, pass string) ([]byte, error) {
	id, err := age.NewScryptIdentity(pass)
	if err != nil {
		return nil, fmt.Errorf("decrypt key: %w", err)
	}
	id.SetMaxWorkFactor(MaxWorkFactor)
	var src io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(data, []byte(armor.Header)) {
		src = armor.NewReader(src)
	}
	r, err := age.Decrypt(src, id)
	var nomatch *age.NoIdentityMatchError
	if errors.As(err, &nomatch) {
		for _, t := range nomatch.StanzaTypes {
			if t == "scrypt" {
				return nil, ErrWrongPassphrase
			}
		}
		return nil, fmt.Errorf("%w: age file is not encrypted to a passphrase", ErrFormat)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: decrypt: %v", ErrFormat, err)
	}
	text, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: decrypt: %v", ErrFormat, err)
	}
	if len(text) > maxFileSize {
		return nil, fmt.Errorf("%w: encrypted payload too large", ErrFormat)
	}
	return text, nil
}

// parse reads the key text: the header line, then "seed HEX" and an optional
// "public HEX" that must match the seed. Unknown lines are an error, so a
// future format version is never misread.
func parse(text []byte) (ed25519.PrivateKey, error) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	if !sc.Scan() || strings.TrimRight(sc.Text(), "\r") != Header {
		return nil, fmt.Errorf("%w: first line is not %q", ErrFormat, Header)
	}
	var seed, pub []byte
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		field, value, _ := strings.Cut(line, " ")
		var dst *[]byte
		switch field {
		case "seed":
			dst = &seed
		case "public":
			dst = &pub
		default:
			return nil, fmt.Errorf("%w: unknown line %q", ErrFormat, field)
		}
		if *dst != nil {
			return nil, fmt.Errorf("%w: %s given twice", ErrFormat, field)
		}
		b, err := hex.DecodeString(strings.TrimSpace(value))
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("%w: %s must be 64 hex characters", ErrFormat, field)
		}
		*dst = b
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if seed == nil {
		return nil, fmt.Errorf("%w: no seed line", ErrFormat)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	if pub != nil && !bytes.Equal(pub, priv.Public().(ed25519.PublicKey)) {
		return nil, fmt.Errorf("%w: public key does not match the seed (damaged file?)", ErrFormat)
	}
	return priv, nil
}
