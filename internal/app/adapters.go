package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ccd-platform/ccd/internal/config"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/trace"
)

// traceVars gives the IVR a trace lookup: code check, catalog or platform,
// and the read-out variables in the caller's language.
type traceVars struct {
	rules   trace.CodeRules
	lookup  trace.Lookup
	timeout time.Duration
	now     func() time.Time
}

var _ ivr.TraceLookup = (*traceVars)(nil)

func (t *traceVars) LookupVars(ctx context.Context, code, lang string) (map[string]string, error) {
	c, err := t.rules.Validate(code)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ivr.ErrTraceNotFound, err)
	}
	if t.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		defer cancel()
	}
	rec, err := t.lookup.Lookup(ctx, c)
	switch {
	case err == nil:
		return trace.Vars(rec, lang, t.now()), nil
	case errors.Is(err, trace.ErrNotFound):
		return nil, fmt.Errorf("%w: %v", ivr.ErrTraceNotFound, err)
	default:
		return nil, fmt.Errorf("%w: %v", ivr.ErrTraceUnavailable, err)
	}
}

// codeRules are the accepted trace codes from configuration.
func codeRules(c config.Trace) trace.CodeRules {
	return trace.CodeRules{MinLen: c.CodeMinLength, MaxLen: c.CodeMaxLength, CheckDigit: c.CodeCheckDigit}
}

// validator checks collected input for collect nodes.
func validator(rules trace.CodeRules) ivr.CodeValidator {
	return func(name, value string) error {
		switch name {
		case "trace_code":
			_, err := rules.Validate(value)
			return err
		case "digits", "":
			for _, r := range value {
				if r < '0' || r > '9' {
					return fmt.Errorf("%q is not digits only", value)
				}
			}
			return nil
		}
		return fmt.Errorf("unknown validator %q", name)
	}
}
