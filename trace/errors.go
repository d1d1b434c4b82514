package trace

import (
	"errors"
	"fmt"
)

// Errors of trace codes: the IVR can tell the caller at once that the code
// keyed in is wrong, before any lookup.
var (
	// ErrCodeChars: the code holds something other than the digits 0-9.
	ErrCodeChars = errors.New("trace code must be digits only")
	// ErrCodeLength: the code is too short or too long.
	ErrCodeLength = errors.New("trace code has the wrong length")
	// ErrCodeCheckDigit: the last digit is not the GS1 mod-10 check digit of the others.
	ErrCodeCheckDigit = errors.New("trace code check digit is wrong")
)

// Errors of lookups.
var (
	// ErrNotFound: the code is well-formed but no record exists.
	ErrNotFound = errors.New("trace code not found")
	// ErrUnavailable: the lookup could not be made (database or platform down,
	// timeout, bad answer). It wraps the cause.
	ErrUnavailable = errors.New("trace lookup unavailable")
)

// ErrInvalidRecord is wrapped by a FieldError about anything but the code.
var ErrInvalidRecord = errors.New("invalid trace record")

// FieldError is a bad value in a record: on a line of a CSV file (Line > 0)
// or in a record given to Upsert (Line 0). It wraps ErrInvalidRecord or, for
// the code, one of the ErrCode errors.
type FieldError struct {
	Line  int    // line of the CSV file the record starts on; 0 outside an import
	Field string // CSV column name, e.g. "inspection_date"
	Msg   string // what is wrong, e.g. `"2026-13-01" is not a date YYYY-MM-DD`
	Err   error
}

func (e *FieldError) Error() string {
	switch {
	case e.Line > 0 && e.Field != "":
		return fmt.Sprintf("line %d, field %s: %s", e.Line, e.Field, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	default:
		return fmt.Sprintf("field %s: %s", e.Field, e.Msg)
	}
}

func (e *FieldError) Unwrap() error { return e.Err }

// fieldErr is a FieldError wrapping ErrInvalidRecord.
func fieldErr(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...), Err: ErrInvalidRecord}
}
