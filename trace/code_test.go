package trace_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ccd-platform/ccd/trace"
)

func TestCheckDigit(t *testing.T) {
	tests := []struct {
		body string
		want byte
	}{
		{"690123456789", '2'},       // the sample code 6901234567892
		{"400638133393", '1'},       // EAN-13 4006381333931
		{"590123412345", '7'},       // EAN-13 5901234123457
		{"9780306406157"[:12], '7'}, // ISBN-13 9780306406157
		{"1061414100041", '5'},      // GTIN-14 10614141000415
		{"03600029145", '2'},        // UPC-A 036000291452
		{"9638507", '4'},            // EAN-8 96385074
		{"", '0'},
		{"12a4", 0},
		{"１２", 0}, // full-width digits are not digits
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			if got := trace.CheckDigit(tt.body); got != tt.want {
				t.Fatalf("CheckDigit(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func TestComplete(t *testing.T) {
	if got := trace.Complete("690123456789"); got != "6901234567892" {
		t.Fatalf("Complete = %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Complete of a non-digit body did not panic")
		}
	}()
	trace.Complete("69x")
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		rules   trace.CodeRules
		in      string
		wantErr error
		msg     string // in the error
	}{
		{"sample", trace.DefaultCodeRules, "6901234567892", nil, ""},
		{"20 digits", trace.DefaultCodeRules, string(trace.Complete("6901234567890123456")), nil, ""},
		{"wrong check digit", trace.DefaultCodeRules, "6901234567890", trace.ErrCodeCheckDigit, "ends in 0, expected 2"},
		{"transposed digits", trace.DefaultCodeRules, "6901234567982", trace.ErrCodeCheckDigit, ""},
		{"too short", trace.DefaultCodeRules, "690123", trace.ErrCodeLength, "6 digits, want 13 to 20"},
		{"too long", trace.DefaultCodeRules, strings.Repeat("1", 21), trace.ErrCodeLength, "21 digits"},
		{"empty", trace.DefaultCodeRules, "", trace.ErrCodeLength, "0 digits"},
		{"star key", trace.DefaultCodeRules, "690123*567892", trace.ErrCodeChars, "'*' at position 7"},
		{"hash key", trace.DefaultCodeRules, "6901234567892#", trace.ErrCodeChars, "'#' at position 14"},
		{"space", trace.DefaultCodeRules, " 6901234567892", trace.ErrCodeChars, "position 1"},
		{"chars before length", trace.DefaultCodeRules, "6x", trace.ErrCodeChars, ""},
		{"full-width digit", trace.DefaultCodeRules, "69０1234567892", trace.ErrCodeChars, "'０' at position 3"},
		{"no check digit", trace.CodeRules{MinLen: 4, MaxLen: 8}, "1234", nil, ""},
		{"exact length", trace.CodeRules{MinLen: 8, MaxLen: 8}, "1234567", trace.ErrCodeLength, "want 8"},
		{"no upper limit", trace.CodeRules{MinLen: 2}, strings.Repeat("7", 100), nil, ""},
		{"zero rules need a digit", trace.CodeRules{}, "", trace.ErrCodeLength, "at least 1"},
		{"check digit needs a body", trace.CodeRules{CheckDigit: true}, "0", trace.ErrCodeLength, "at least 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.rules.Validate(tt.in)
			if tt.wantErr == nil {
				if err != nil || got != trace.Code(tt.in) {
					t.Fatalf("Validate(%q) = %q, %v", tt.in, got, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || got != "" || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Validate(%q) = %q, %v; want %v with %q", tt.in, got, err, tt.wantErr, tt.msg)
			}
		})
	}
}

func TestSpoken(t *testing.T) {
	if got := trace.SampleCode.Spoken(); got != "6 9 0 1 2 3 4 5 6 7 8 9 2" {
		t.Fatalf("Spoken = %q", got)
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"6901234567892", "6901234567890", "", "#", "69０1", strings.Repeat("9", 30), "\xff"} {
		f.Add(s, 13, 20, true)
	}
	f.Fuzz(func(t *testing.T, s string, lo, hi int, check bool) {
		rules := trace.CodeRules{MinLen: lo, MaxLen: hi, CheckDigit: check}
		code, err := rules.Validate(s)
		kinds := 0
		for _, e := range []error{trace.ErrCodeChars, trace.ErrCodeLength, trace.ErrCodeCheckDigit} {
			if errors.Is(err, e) {
				kinds++
			}
		}
		if err != nil {
			if kinds != 1 || code != "" {
				t.Fatalf("Validate(%q) = %q, %v: want exactly one ErrCode error", s, code, err)
			}
			return
		}
		if string(code) != s || len(s) < max(lo, 1) || (hi > 0 && len(s) > hi) {
			t.Fatalf("Validate(%q) accepted a code outside %d..%d", s, lo, hi)
		}
		for _, c := range []byte(s) {
			if c < '0' || c > '9' {
				t.Fatalf("Validate(%q) accepted a non-digit", s)
			}
		}
		if check {
			if trace.CheckDigit(s[:len(s)-1]) != s[len(s)-1] {
				t.Fatalf("Validate(%q) accepted a wrong check digit", s)
			}
			// Any single wrong digit is caught.
			for i := range len(s) {
				b := []byte(s)
				b[i] = '0' + (b[i]-'0'+1)%10
				if _, err := rules.Validate(string(b)); !errors.Is(err, trace.ErrCodeCheckDigit) {
					t.Fatalf("Validate(%q) with digit %d changed: %v", s, i, err)
				}
			}
		}
		if got, err := rules.Validate(string(trace.Complete(s))); check && len(s)+1 <= hi && (err != nil || got != trace.Complete(s)) {
			t.Fatalf("Complete(%q) = %q not valid: %v", s, got, err)
		}
	})
}
