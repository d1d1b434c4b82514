package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ccd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		env     []string
		wantErr []string // substrings; empty means success
		check   func(t *testing.T, c Config)
	}{
		{
			name: "file and env override",
			yaml: "ari:\n  password: secret\n  url: http://127.0.0.1:9000\nhotline:\n  max_digits: 8\n",
			env:  []string{"CCD_HTTP_LISTEN=127.0.0.1:9090", "CCD_HOTLINE_GREETING=sound:a, sound:b", "CCD_CALLS_DRAIN_TIMEOUT=3s", "PATH=/bin"},
			check: func(t *testing.T, c Config) {
				if c.ARI.URL != "http://127.0.0.1:9000" || c.ARI.Password != "secret" {
					t.Errorf("ari = %+v", c.ARI)
				}
				if c.HTTP.Listen != "127.0.0.1:9090" {
					t.Errorf("http.listen = %q", c.HTTP.Listen)
				}
				if strings.Join(c.Hotline.Greeting, "|") != "sound:a|sound:b" {
					t.Errorf("greeting = %q", c.Hotline.Greeting)
				}
				if c.Calls.DrainTimeout != 3*time.Second || c.Hotline.MaxDigits != 8 {
					t.Errorf("drain=%s max_digits=%d", c.Calls.DrainTimeout, c.Hotline.MaxDigits)
				}
				if c.Redis.Addr != "127.0.0.1:6380" {
					t.Errorf("default redis.addr lost: %q", c.Redis.Addr)
				}
			},
		},
		{
			name:    "unknown key names key and line",
			yaml:    "ari:\n  password: x\n  pasword: y\n",
			wantErr: []string{"line 3", `unknown key "ari.pasword"`, "ccd.yaml"},
		},
		{
			name:    "unknown top-level key",
			yaml:    "ari:\n  password: x\nqueues: {}\n",
			wantErr: []string{`unknown key "queues"`},
		},
		{
			name:    "unknown env key",
			yaml:    "ari:\n  password: x\n",
			env:     []string{"CCD_ARI_PASWORD=y"},
			wantErr: []string{"CCD_ARI_PASWORD", "unknown key"},
		},
		{
			name:    "bad values all reported",
			yaml:    "ari:\n  password: x\n  url: ftp://h\nhotline:\n  terminator: x\n  max_digits: 0\nlog:\n  level: loud\n",
			wantErr: []string{"ari.url", "hotline.terminator", "hotline.max_digits", "log.level", "ccd.yaml"},
		},
		{
			name:    "bad env duration",
			yaml:    "ari:\n  password: x\n",
			env:     []string{"CCD_CALLS_DRAIN_TIMEOUT=soon"},
			wantErr: []string{"CCD_CALLS_DRAIN_TIMEOUT", "calls.drain_timeout", "not a duration"},
		},
		{
			name:    "missing password",
			yaml:    "http:\n  listen: 127.0.0.1:8080\n",
			wantErr: []string{"ari.password"},
		},
		{
			name:    "wrong type",
			yaml:    "ari:\n  password: x\nhotline:\n  max_digits: many\n",
			wantErr: []string{"line 4", "many"},
		},
		{
			name:    "bad media",
			yaml:    "ari:\n  password: x\nhotline:\n  greeting: [hello-world]\n",
			wantErr: []string{"hotline.greeting[0]"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeFile(t, tc.yaml), tc.env)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded, want error with %q", tc.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestKeysHaveEnvNames(t *testing.T) {
	keys := Keys()
	if len(keys) < 20 {
		t.Fatalf("only %d keys", len(keys))
	}
	for _, k := range keys {
		if strings.ContainsAny(EnvName(k), ".-") {
			t.Errorf("bad env name %s for %s", EnvName(k), k)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("ari:\n  password: x\n")
	f.Add("hotline:\n  greeting: [sound:a]\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p, nil)
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("Load accepted a config that fails Validate: %v", verr)
			}
		} else if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error not wrapped as ErrInvalid: %v", err)
		}
	})
}

// The example file documents every key with its default.
func TestExampleFileDocumentsEveryKey(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "ccd.example.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, []string{"CCD_ARI_PASSWORD=x"})
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	d := Default()
	d.Instance, d.ARI.Password = c.Instance, c.ARI.Password
	if fmt.Sprint(c) != fmt.Sprint(d) {
		t.Errorf("example values differ from the defaults:\nexample %+v\ndefault %+v", c, d)
	}
	for _, k := range Keys() {
		leaf := k[strings.LastIndex(k, ".")+1:]
		if !strings.Contains(string(data), leaf+":") {
			t.Errorf("example does not show %s", k)
		}
	}
}
