package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/config"
)

func TestMissingAsteriskRootSaysHowToInstall(t *testing.T) {
	cfg := config.Default()
	cfg.ARI.Password = "x"
	cfg.Asterisk.Root = t.TempDir() + "/no-such-root"
	_, err := Start(context.Background(), cfg, zap.NewNop())
	if !errors.Is(err, ErrNoAsteriskRoot) {
		t.Fatalf("err = %v, want ErrNoAsteriskRoot", err)
	}
	for _, want := range []string{cfg.Asterisk.Root, "deploy/asterisk.sh install", "make up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
