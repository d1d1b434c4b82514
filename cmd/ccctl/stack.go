package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ccd-platform/ccd/internal/devstack"
)

// runStack is `ccctl stack up|down|status`: the platform on this machine.
func runStack(args []string) error {
	if len(args) == 0 {
		return usageError("ccctl stack up|down|status [--dir /var/lib/ccd]")
	}
	sub := args[0]
	fs := newFlags("stack "+sub, "[flags]")
	var o devstack.Options
	fs.StringVar(&o.Dir, "dir", "/var/lib/ccd", "state directory")
	fs.StringVar(&o.CCDBinary, "ccd", "", "ccd binary (default: ccd next to ccctl)")
	fs.IntVar(&o.SIPPort, "sip-port", 5060, "SIP trunk port (UDP and TCP)")
	fs.IntVar(&o.ARIPort, "ari-port", 8088, "Asterisk HTTP/ARI port")
	fs.StringVar(&o.HTTPListen, "http", "127.0.0.1:8080", "ccd HTTP listener")
	fs.IntVar(&o.RedisPort, "redis-port", 6380, "Redis port")
	fs.IntVar(&o.PGPort, "pg-port", 5433, "PostgreSQL port")
	fs.StringVar(&o.NATSListen, "nats", "127.0.0.1:4222", "embedded NATS listener")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	o.Out = stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch sub {
	case "up":
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if err := devstack.Up(ctx, o); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nThe hotline answers on 127.0.0.1:%d. Place a demo call:\n\n  %s\n\n", o.SIPPort, devstack.DemoCall(o))
		fmt.Fprintf(stdout, "Then see its record:  bin/ccctl cdr --dsn-from %s/ccd.yaml\n\n", o.Dir)
		fmt.Fprintf(stdout, "The agent desktop: log in as li.na (or zhang.min), press Ready, then call as a VIP customer\nwho looks up a trace code and asks for an agent; the page rings, shows the screen pop and takes the call:\n\n%s\n  %s\n\n", devstack.DeskLogins(o), devstack.DeskCall(o))
		fmt.Fprintf(stdout, "Watch the ACD share calls between two agent phones (each in its own terminal):\n\n%s\n\nStop everything:      make down\n", devstack.ACDDemo(o))
		return nil
	case "down":
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		return devstack.Down(ctx, o)
	case "status":
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return devstack.Status(ctx, o)
	}
	return usageError(fmt.Sprintf("unknown stack command %q (up, down, status)", sub))
}
