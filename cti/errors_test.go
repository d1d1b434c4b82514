package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

var errDomain = errors.New("acd: not found")

func TestWireError(t *testing.T) {
	classify := func(err error) Code {
		if errors.Is(err, errDomain) {
			return CodeNotFound
		}
		return ""
	}
	tests := []struct {
		name     string
		err      error
		want     *Error
		sentinel error
	}{
		{"sentinel", ErrForbidden, &Error{Code: CodeForbidden}, ErrForbidden},
		{"sentinel wrapped with a detail", fmt.Errorf("%w: agent 1001 is on a call", ErrIllegalState),
			&Error{Code: CodeIllegalState, Message: "agent 1001 is on a call"}, ErrIllegalState},
		{"wrapped twice", fmt.Errorf("dispatch: %w", fmt.Errorf("%w: queue q9", ErrNotFound)),
			&Error{Code: CodeNotFound, Message: "dispatch: not_found: queue q9"}, ErrNotFound},
		{"an Error made by Errorf", Errorf(CodeInvalid, "reason %q", "x"),
			&Error{Code: CodeInvalid, Message: `reason "x"`}, ErrInvalid},
		{"classified domain error", fmt.Errorf("agent 7: %w", errDomain),
			&Error{Code: CodeNotFound, Message: "agent 7: acd: not found"}, ErrNotFound},
		{"deadline", context.DeadlineExceeded, &Error{Code: CodeUnavailable, Message: "context deadline exceeded"}, ErrUnavailable},
		{"anything else hides its text", errors.New("redis 10.0.0.7:6379: broken pipe"),
			&Error{Code: CodeInternal, Message: "internal error"}, ErrInternal},
		{"unknown code is internal", &Error{Code: "boom", Message: "x"},
			&Error{Code: CodeInternal, Message: "internal error"}, ErrInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := wireError(tt.err, classify)
			if *w != *tt.want {
				t.Fatalf("wire %+v, want %+v", *w, *tt.want)
			}
			// Round trip through JSON, as the reply does.
			data, err := json.Marshal(reply{Error: w})
			if err != nil {
				t.Fatal(err)
			}
			var back reply
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(back.Error, tt.sentinel) {
				t.Errorf("decoded %v is not %v", back.Error, tt.sentinel)
			}
			for _, other := range []error{ErrForbidden, ErrNotFound, ErrIllegalState, ErrInvalid, ErrUnavailable, ErrInternal} {
				if other != tt.sentinel && errors.Is(back.Error, other) {
					t.Errorf("decoded %v also matches %v", back.Error, other)
				}
			}
		})
	}
}

func TestErrorUnwrapsItsCause(t *testing.T) {
	err := &Error{Code: CodeUnavailable, Message: "login 1001: timeout", cause: context.DeadlineExceeded}
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v: want unavailable and deadline exceeded", err)
	}
	if errors.Is(err, &Error{Code: CodeUnavailable, Message: "other"}) {
		t.Error("matches an error with another message")
	}
	if CodeOf(fmt.Errorf("x: %w", err)) != CodeUnavailable || CodeOf(nil) != "" {
		t.Error("CodeOf")
	}
}
