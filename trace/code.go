package trace

import (
	"fmt"
	"unicode/utf8"
)

// Code is a trace code as printed on a package: digits only, the last one a
// check digit by default. It is the key of a trace record.
type Code string

// CodeRules say which codes are accepted. The zero MinLen means 1, the zero
// MaxLen no upper limit.
type CodeRules struct {
	MinLen, MaxLen int
	// CheckDigit: the last digit is the GS1 mod-10 check digit (as in EAN-13
	// and GTIN) of the digits before it.
	CheckDigit bool
}

// DefaultCodeRules accept 13 to 20 digits ending in a GS1 check digit: an
// EAN-13 such as 6901234567892 or a longer serialised code.
var DefaultCodeRules = CodeRules{MinLen: 13, MaxLen: 20, CheckDigit: true}

// Validate checks s against the rules and returns it as a Code. Its errors
// wrap ErrCodeChars, ErrCodeLength or ErrCodeCheckDigit (checked in that
// order) and say what is wrong in words an administrator understands.
func (r CodeRules) Validate(s string) (Code, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			ch, _ := utf8.DecodeRuneInString(s[i:])
			return "", fmt.Errorf("%w: %q at position %d", ErrCodeChars, ch, utf8.RuneCountInString(s[:i])+1)
		}
	}
	lo, hi := max(r.MinLen, 1), r.MaxLen
	if r.CheckDigit {
		lo = max(lo, 2) // a body and its check digit
	}
	if len(s) < lo || (hi > 0 && len(s) > hi) {
		want := fmt.Sprintf("%d to %d", lo, hi)
		switch {
		case hi <= 0:
			want = fmt.Sprintf("at least %d", lo)
		case lo == hi:
			want = fmt.Sprint(lo)
		}
		return "", fmt.Errorf("%w: %d digits, want %s", ErrCodeLength, len(s), want)
	}
	if r.CheckDigit {
		body, last := s[:len(s)-1], s[len(s)-1]
		if want := CheckDigit(body); last != want {
			return "", fmt.Errorf("%w: ends in %c, expected %c", ErrCodeCheckDigit, last, want)
		}
	}
	return Code(s), nil
}

// CheckDigit returns the GS1 mod-10 check digit ('0'-'9') of body: weights 3
// and 1 alternate from the rightmost digit, and the check digit brings the
// sum to a multiple of 10. CheckDigit("690123456789") is '2'. It returns 0 if
// body holds anything but digits.
func CheckDigit(body string) byte {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		c := body[i]
		if c < '0' || c > '9' {
			return 0
		}
		d := int(c - '0')
		if (len(body)-1-i)%2 == 0 {
			d *= 3
		}
		sum += d
	}
	return byte('0' + (10-sum%10)%10)
}

// Complete appends body's check digit. It panics if body holds anything but
// digits: it is meant for codes a program builds.
func Complete(body string) Code {
	c := CheckDigit(body)
	if c == 0 {
		panic(fmt.Sprintf("trace: Complete(%q): body must be digits only", body))
	}
	return Code(body + string(rune(c)))
}

// Spoken returns the code digit by digit, separated by spaces ("6 9 0 1 …"),
// which Mandarin and English text-to-speech read as single digits.
func (c Code) Spoken() string { return spell(string(c)) }
