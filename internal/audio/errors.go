package audio

import "errors"

var (
	// ErrInvalidWAV wraps every reason a WAV stream was refused.
	ErrInvalidWAV = errors.New("invalid WAV")
	// ErrUnsupportedWAV is returned for well-formed WAV data in a format
	// other than 16-bit mono PCM.
	ErrUnsupportedWAV = errors.New("unsupported WAV format")
	// ErrRateMismatch is returned when two signals that must share a sample
	// rate do not.
	ErrRateMismatch = errors.New("sample rates differ")
)
