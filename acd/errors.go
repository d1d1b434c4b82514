package acd

import "errors"

// Sentinel errors of the ACD. Adapters wrap them with %w; callers check them
// with errors.Is and translate them to status codes only at the edge.
var (
	// ErrIllegalTransition: the agent state change is not in the transition
	// table. The wrapped message names from → to.
	ErrIllegalTransition = errors.New("acd: illegal agent state transition")
	// ErrNoAgent: no available agent satisfies any of the waiting calls looked at.
	ErrNoAgent = errors.New("acd: no agent available")
	// ErrNoCall: the queue has no waiting call.
	ErrNoCall = errors.New("acd: no call waiting")
	// ErrNotFound: the agent or call is unknown.
	ErrNotFound = errors.New("acd: not found")
	// ErrAlreadyReserved: the agent or call already holds a reservation.
	ErrAlreadyReserved = errors.New("acd: already reserved")
	// ErrNotReserved: the call holds no reservation to release.
	ErrNotReserved = errors.New("acd: not reserved")
	// ErrReserved: the agent is reserved; only Release or Dequeue end a reservation.
	ErrReserved = errors.New("acd: agent is reserved")
	// ErrAlreadyQueued: a call with this id is already queued or reserved.
	ErrAlreadyQueued = errors.New("acd: call already queued")
	// ErrInvalid: an argument is malformed (empty id, level out of range, unknown strategy...).
	ErrInvalid = errors.New("acd: invalid argument")
	// ErrInvariant: the stored state contradicts itself. It signals a defect,
	// never a normal outcome.
	ErrInvariant = errors.New("acd: state invariant violated")
)
