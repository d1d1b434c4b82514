package sipcall

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Digit is one DTMF key to send, after waiting Delay (counted from the end of
// the previous key's tone, or from the answer for the first one). A key
// takes about 140 ms on the wire.
type Digit struct {
	Key   rune
	Delay time.Duration
}

// maxWait bounds one wait in a digit spec.
const maxWait = time.Hour

// validKey reports whether k is a DTMF key RFC 4733 can carry here.
func validKey(k rune) bool {
	return (k >= '0' && k <= '9') || k == '*' || k == '#' || (k >= 'A' && k <= 'D')
}

// Keys returns the keys of digits as a string, e.g. "123#".
func Keys(digits []Digit) string {
	var b strings.Builder
	for _, d := range digits {
		b.WriteRune(d.Key)
	}
	return b.String()
}

// ParseDigits reads a digit spec, the text form of a DTMF sequence:
//
//	keys      0-9 * # A-D (a-d accepted), sent in order
//	w<dur>    wait: dur is a number with one Go time unit ("1.5s", "500ms",
//	          "2m") or a bare number of milliseconds ("w500"); waits add up
//	          and delay the next key; each and their sum are at most 1h
//	, space   separators, ignored
//
// Every key but the first waits defaultGap after the previous one, plus any
// waits written before it; the first key waits only for the waits written
// before it. So with a 300ms gap, "123#" sends 1 at once and each following
// key 300 ms later; "w500,1,2,w1000,#" sends 1 after 500 ms, 2 300 ms later,
// # 1.3 s after that. A wait with no key after it is an error, as is any
// other character. An empty spec gives no digits.
func ParseDigits(spec string, defaultGap time.Duration) ([]Digit, error) {
	if defaultGap < 0 {
		return nil, fmt.Errorf("%w: negative gap %v", ErrInvalidDigits, defaultGap)
	}
	var out []Digit
	var wait time.Duration
	pendingWait := -1 // position of a wait not yet followed by a key
	rs := []rune(spec)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ',' || unicode.IsSpace(r):
		case r == 'w' || r == 'W':
			start := i
			j := i + 1
			for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == '.') {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("%w: %q: wait at position %d needs a duration, e.g. w500 or w1.5s", ErrInvalidDigits, spec, start+1)
			}
			num := string(rs[i+1 : j])
			// A unit is a run of letters Go's time units use; none is a key.
			k := j
			for k < len(rs) && strings.ContainsRune("nsuµmh", rs[k]) {
				k++
			}
			var d time.Duration
			if k == j {
				ms, err := strconv.ParseFloat(num, 64)
				if err != nil {
					return nil, fmt.Errorf("%w: %q: bad wait %q at position %d", ErrInvalidDigits, spec, "w"+num, start+1)
				}
				if ms > float64(maxWait/time.Millisecond) {
					return nil, fmt.Errorf("%w: %q: wait %sms at position %d is beyond %v", ErrInvalidDigits, spec, num, start+1, maxWait)
				}
				d = time.Duration(ms * float64(time.Millisecond))
			} else {
				var err error
				if d, err = time.ParseDuration(string(rs[i+1 : k])); err != nil {
					return nil, fmt.Errorf("%w: %q: bad wait %q at position %d", ErrInvalidDigits, spec, string(rs[i:k]), start+1)
				}
			}
			if d < 0 || d > maxWait {
				return nil, fmt.Errorf("%w: %q: wait %v at position %d is beyond %v", ErrInvalidDigits, spec, d, start+1, maxWait)
			}
			wait += d
			if wait > maxWait {
				return nil, fmt.Errorf("%w: %q: waits add up to more than %v", ErrInvalidDigits, spec, maxWait)
			}
			pendingWait = start
			i = k - 1
		default:
			key := unicode.ToUpper(r)
			if !validKey(key) {
				return nil, fmt.Errorf("%w: %q: unexpected %q at position %d (keys are 0-9 * # A-D, waits w<duration>, separators commas)", ErrInvalidDigits, spec, r, i+1)
			}
			d := wait
			if len(out) > 0 {
				d += defaultGap
			}
			out = append(out, Digit{Key: key, Delay: d})
			wait = 0
			pendingWait = -1
		}
	}
	if pendingWait >= 0 {
		return nil, fmt.Errorf("%w: %q: wait at position %d has no key after it", ErrInvalidDigits, spec, pendingWait+1)
	}
	return out, nil
}
