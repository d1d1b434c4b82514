package agentdesk

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/db"
	"github.com/ccd-platform/ccd/recording"
)

var nopLog = zap.NewNop()

// ErrInvalidf is an ErrInvalid with a message.
func ErrInvalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// notFound maps the stores' not-found errors to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, db.ErrNotFound) || errors.Is(err, recording.ErrNotFound) {
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}
