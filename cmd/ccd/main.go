// Command ccd is the contact-center service: it drives Asterisk over ARI and
// runs the hotline's calls.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/app"
	"github.com/ccd-platform/ccd/internal/config"
	"github.com/ccd-platform/ccd/internal/logging"
)

func main() {
	os.Exit(run())
}

func run() int {
	path := flag.String("config", os.Getenv("CCD_CONFIG_FILE"), "YAML configuration file (CCD_CONFIG_FILE); CCD_* variables override its keys")
	check := flag.Bool("check-config", false, "validate the configuration and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ccd: unexpected argument %q\n", flag.Arg(0))
		return 2
	}
	env := os.Environ()
	filtered := env[:0:0]
	for _, kv := range env {
		if len(kv) < len("CCD_CONFIG_FILE=") || kv[:len("CCD_CONFIG_FILE=")] != "CCD_CONFIG_FILE=" {
			filtered = append(filtered, kv)
		}
	}
	cfg, err := config.Load(*path, filtered)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ccd: %v\n", err)
		return 2
	}
	if *check {
		fmt.Println("configuration ok")
		return 0
	}
	log, err := logging.New(cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ccd: %v\n", err)
		return 2
	}
	defer log.Sync() //nolint:errcheck

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)

	startCtx, cancelStart := context.WithCancel(context.Background())
	go func() {
		select {
		case <-sigs:
			cancelStart()
		case <-startCtx.Done():
		}
	}()
	a, err := app.Start(startCtx, cfg, log)
	cancelStart()
	if err != nil {
		log.Error("ccd cannot start", zap.Error(err))
		fmt.Fprintf(os.Stderr, "ccd: %v\n", err)
		return 1
	}

	// First signal: stop new calls, let calls in progress finish (bounded).
	// Second signal: cut them off now.
	sig := <-sigs
	log.Info("shutting down", zap.String("signal", sig.String()))
	drainCtx, cancelDrain := context.WithTimeout(context.Background(), cfg.Calls.DrainTimeout)
	done := make(chan error, 1)
	go func() { done <- a.Drain(drainCtx) }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("drain timed out; cutting remaining calls", zap.Error(err))
		}
	case sig := <-sigs:
		log.Warn("second signal: cutting calls in progress", zap.String("signal", sig.String()))
	}
	cancelDrain()
	a.Close()
	return 0
}
