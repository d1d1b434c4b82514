package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ccd-platform/ccd/agentdesk/password"
)

// cheap keeps the tests fast; the format and checks are the same.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	h, err := password.Hash("correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not the expected PHC string", h)
	}
	h2, _ := password.Hash("correct horse", cheap)
	if h == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	stronger := cheap
	stronger.Time = 2
	for _, tt := range []struct {
		name       string
		password   string
		want       password.Params
		ok, rehash bool
	}{
		{"right password", "correct horse", cheap, true, false},
		{"wrong password", "correct horsE", cheap, false, false},
		{"empty password", "", cheap, false, false},
		{"too long", strings.Repeat("x", password.MaxLength+1), cheap, false, false},
		{"parameters raised", "correct horse", stronger, true, true},
		{"wrong password, parameters raised", "nope", stronger, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := password.Verify(tt.password, h, tt.want)
			if err != nil || ok != tt.ok || rehash != tt.rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.ok, tt.rehash)
			}
		})
	}
}

func TestHashRefuses(t *testing.T) {
	for _, tt := range []struct {
		name     string
		password string
		p        password.Params
	}{
		{"empty", "", cheap},
		{"too long", strings.Repeat("x", password.MaxLength+1), cheap},
		{"no time", "pw", password.Params{Memory: 64, Threads: 1, SaltLen: 16, KeyLen: 32}},
		{"short salt", "pw", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}},
		{"huge memory", "pw", password.Params{Memory: 1 << 30, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := password.Hash(tt.password, tt.p); !errors.Is(err, password.ErrInvalid) {
				t.Fatalf("Hash: %v, want ErrInvalid", err)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	good, err := password.Hash("pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$")
	for _, tt := range []struct{ name, hash string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu5Wq4hC8Y9Bq7xMtk8T2V2yJY2h1o6mK"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"old version", strings.Replace(good, "v=19", "v=16", 1)},
		{"missing parameter", "$argon2id$v=19$m=64,t=1$" + parts[4] + "$" + parts[5]},
		{"threads overflow", "$argon2id$v=19$m=64,t=1,p=300$" + parts[4] + "$" + parts[5]},
		{"memory bomb", "$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5]},
		{"time bomb", "$argon2id$v=19$m=64,t=100000,p=1$" + parts[4] + "$" + parts[5]},
		{"bad salt", "$argon2id$v=19$m=64,t=1,p=1$***$" + parts[5]},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$AAAA"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if ok, _, err := password.Verify("pw", tt.hash, cheap); ok || !errors.Is(err, password.ErrMalformed) {
				t.Fatalf("Verify = %v, %v; want false, ErrMalformed", ok, err)
			}
		})
	}
}

// FuzzDecode: any stored string decodes or fails with ErrMalformed, and what
// decodes is within bounds.
func FuzzDecode(f *testing.F) {
	good, _ := password.Hash("pw", cheap)
	for _, s := range []string{good, "", "$", "$argon2id$v=19$m=1,t=1,p=1$$", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := password.Decode(s)
		if err != nil {
			if !errors.Is(err, password.ErrMalformed) {
				t.Fatalf("Decode(%q): %v is not ErrMalformed", s, err)
			}
			return
		}
		if p.Memory > 1<<20 || p.Time > 64 || len(salt) < 8 || len(key) < 16 {
			t.Fatalf("Decode(%q) accepted %+v", s, p)
		}
	})
}
