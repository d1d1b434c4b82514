package flows

import (
	"errors"
	"strconv"
	"strings"
)

// Errors of the flows package, checked with errors.Is.
var (
	// ErrNotFound: the flow or version does not exist.
	ErrNotFound = errors.New("flows: not found")
	// ErrInvalid: the document has problems; a *ValidationError lists them.
	ErrInvalid = errors.New("flows: invalid flow document")
	// ErrNotPublished: the flow has no published version (or, for a
	// roll-back, no earlier one to return to).
	ErrNotPublished = errors.New("flows: not published")
	// ErrNoBinding: no flow is bound to the DID, and there is no "*" default.
	ErrNoBinding = errors.New("flows: no flow bound to this DID")
)

// Problem is one thing wrong with a document, at a path such as
// nodes.main.options.3. Line is the source line when known (0 otherwise).
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem of a document. It wraps ErrInvalid.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 0 {
		return ErrInvalid.Error()
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Unwrap() error { return ErrInvalid }
