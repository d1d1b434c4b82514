// Package ttse2e proves text-to-speech end to end: audio rendered by
// espeak-ng, served by ccd's media handler over HTTP, fetched and played by
// a private Asterisk 22 into a real SIP call, and compared with what the
// caller heard. Nothing here is skipped: if espeak-ng or a component of the
// stack is missing, TestMain fails the run and says which.
package ttse2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/ivr/tts"
	"github.com/ccd-platform/ccd/test/harness"
)

var (
	stack *harness.Stack
	// engine renders every test prompt; cacheDir keeps them.
	engine   *tts.Espeak
	cacheDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	if engine, err = tts.NewEspeak(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ttse2e: %v\n", err)
		return 1
	}
	return harness.Main(m, "ttse2e", &stack, func(s *harness.Stack) error {
		cacheDir = filepath.Join(s.Dir, "tts")
		fmt.Printf("ttse2e: TTS engine %s\n", engine.Name())
		return nil
	})
}
