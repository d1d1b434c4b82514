package sipcall

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestParseDigits(t *testing.T) {
	const gap = 300 * time.Millisecond
	ms := time.Millisecond
	tests := []struct {
		spec    string
		want    []Digit
		wantErr string // substring of the error; "" for success
	}{
		{"", nil, ""},
		{"  , ", nil, ""},
		{"123#", []Digit{{'1', 0}, {'2', gap}, {'3', gap}, {'#', gap}}, ""},
		{"w500,1,2,w1000,#", []Digit{{'1', 500 * ms}, {'2', gap}, {'#', gap + time.Second}}, ""},
		{"*0abcd", []Digit{{'*', 0}, {'0', gap}, {'A', gap}, {'B', gap}, {'C', gap}, {'D', gap}}, ""},
		{"w1.5s9", []Digit{{'9', 1500 * ms}}, ""},
		{"W250ms 1", []Digit{{'1', 250 * ms}}, ""},
		{"w2.5,1", []Digit{{'1', 2500 * time.Microsecond}}, ""},
		{"1w100w200 2", []Digit{{'1', 0}, {'2', gap + 300*ms}}, ""},
		{"w1m#", []Digit{{'#', time.Minute}}, ""},
		{"w0m0", []Digit{{'0', 0}}, ""},
		{"w1m30s", nil, "unexpected 's' at position 6"},
		{"12x", nil, `unexpected 'x' at position 3`},
		{"1+2", nil, `unexpected '+' at position 2`},
		{"1w", nil, "wait at position 2 needs a duration"},
		{"wait", nil, "wait at position 1 needs a duration"},
		{"1,w500", nil, "wait at position 3 has no key after it"},
		{"w1.2.3,1", nil, `bad wait "w1.2.3"`},
		{"w5mh1", nil, `bad wait "w5mh"`},
		{"w2h1", nil, "beyond 1h0m0s"},
		{"w99999999999999999999,1", nil, "beyond 1h0m0s"},
		{"w59m,w59m,1", nil, "add up to more than"},
		{"é", nil, "unexpected 'é' at position 1"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			got, err := ParseDigits(tt.spec, gap)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidDigits) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidDigits mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseDigitsNegativeGap(t *testing.T) {
	if _, err := ParseDigits("1", -time.Second); !errors.Is(err, ErrInvalidDigits) {
		t.Fatalf("err = %v", err)
	}
}

func TestKeys(t *testing.T) {
	d, _ := ParseDigits("w1s,12#", 0)
	if k := Keys(d); k != "12#" {
		t.Fatalf("Keys = %q", k)
	}
}

// FuzzParseDigits checks that the parser never panics, that what it accepts
// is valid for Options, and that the keys are the spec's key characters.
func FuzzParseDigits(f *testing.F) {
	for _, s := range []string{"", "123#", "w500,1,2,w1000,#", "w1.5s*", "abcd", "1w", "w5mh1", "w99999999999999999999,1", "wµs1", "w0m0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ds, err := ParseDigits(spec, 10*time.Millisecond)
		if err != nil {
			if !errors.Is(err, ErrInvalidDigits) {
				t.Fatalf("error %v does not wrap ErrInvalidDigits", err)
			}
			return
		}
		for _, d := range ds {
			if !validKey(d.Key) || d.Delay < 0 || d.Delay > maxWait+10*time.Millisecond {
				t.Fatalf("accepted %q into bad digit %+v", spec, d)
			}
		}
		if got, want := Keys(ds), keysOf(spec); got != want {
			t.Fatalf("keys of %q: %q, want %q", spec, got, want)
		}
	})
}

// keysOf is the key characters of an accepted spec: everything but
// separators and waits (w, then the number, then the unit letters).
func keysOf(spec string) string {
	var b strings.Builder
	const (
		none = iota
		number
		unit
	)
	state := none
	for _, r := range spec {
		switch {
		case r == 'w' || r == 'W':
			state = number
			continue
		case state == number && (r >= '0' && r <= '9' || r == '.'):
			continue
		case state != none && strings.ContainsRune("nsuµmh", r):
			state = unit
			continue
		}
		state = none
		if r != ',' && !unicode.IsSpace(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}
