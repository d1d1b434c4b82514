package pgstore

import (
	"fmt"

	"github.com/ccd-platform/ccd/acd"
)

// ErrInUse: the queue or pause reason is still needed (another queue
// overflows to it, the ACD sets it itself). It wraps acd.ErrInvalid, so
// callers that only know the acd errors treat it as a refused request.
var ErrInUse = fmt.Errorf("%w: in use", acd.ErrInvalid)
