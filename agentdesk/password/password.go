// Package password hashes and checks passwords with argon2id, stored as PHC
// strings that carry their parameters and salt:
//
//	$argon2id$v=19$m=65536,t=3,p=4$<salt, base64>$<key, base64>
//
// A hash made with other parameters than the current ones still verifies, and
// Verify says it should be rehashed, so raising the cost needs no migration.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Errors of the package.
var (
	// ErrMalformed: a stored hash is not an argon2id PHC string this package
	// can read, or its parameters are out of bounds.
	ErrMalformed = errors.New("password: malformed hash")
	// ErrInvalid: the password or the parameters cannot be hashed.
	ErrInvalid = errors.New("password: invalid")
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// Default follows RFC 9106's second recommendation (64 MiB, 3 passes, 4
// lanes): a few tens of milliseconds on a server core per login.
var Default = Params{Memory: 64 * 1024, Time: 3, Threads: 4, SaltLen: 16, KeyLen: 32}

// Bounds a stored hash must respect, so that a crafted one cannot make a
// login allocate gigabytes or spin for minutes.
const (
	maxMemory  = 1 << 20 // 1 GiB
	maxTime    = 64
	maxKeyLen  = 128
	maxSaltLen = 64
	// MaxLength is the longest password accepted; argon2 hashes any length,
	// the limit only bounds the work an attacker can ask for.
	MaxLength = 1024
)

func (p Params) check() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB out of %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d out of 1..%d", p.Time, maxTime)
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.SaltLen < 8 || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d out of 8..%d", p.SaltLen, maxSaltLen)
	case p.KeyLen < 16 || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d out of 16..%d", p.KeyLen, maxKeyLen)
	}
	return nil
}

var b64 = base64.RawStdEncoding

// Hash returns the PHC string of password with a fresh random salt.
func Hash(password string, p Params) (string, error) {
	if password == "" || len(password) > MaxLength {
		return "", fmt.Errorf("%w: a password has 1..%d bytes", ErrInvalid, MaxLength)
	}
	if err := p.check(); err != nil {
		return "", fmt.Errorf("%w: parameters: %v", ErrInvalid, err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encode(p, salt, key), nil
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the stored hash, comparing in
// constant time, and whether the hash should be replaced because it was made
// with other parameters than want. A malformed hash is ErrMalformed.
func Verify(password, encoded string, want Params) (ok, rehash bool, err error) {
	p, salt, key, err := Decode(encoded)
	if err != nil {
		return false, false, err
	}
	if len(password) > MaxLength {
		return false, false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != want, nil
}

// Decode parses a PHC string into its parameters, salt and key.
func Decode(encoded string) (Params, []byte, []byte, error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("not a PHC string $argon2id$v=..$m=..,t=..,p=..$salt$key")
	}
	if parts[1] != "argon2id" {
		return bad(fmt.Sprintf("algorithm %q, want argon2id", parts[1]))
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad(fmt.Sprintf("version %q, want v=%d", parts[2], argon2.Version))
	}
	var p Params
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return bad("parameters must be m=..,t=..,p=..")
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return bad(fmt.Sprintf("parameter %d is %q, want %s=", i+1, fields[i], name))
		}
		bits := 32
		if name == "p" {
			bits = 8
		}
		n, err := strconv.ParseUint(v, 10, bits)
		if err != nil {
			return bad(fmt.Sprintf("parameter %s=%q", name, v))
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			p.Threads = uint8(n)
		}
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return bad("salt is not base64")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return bad("key is not base64")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.check(); err != nil {
		return bad(err.Error())
	}
	return p, salt, key, nil
}
