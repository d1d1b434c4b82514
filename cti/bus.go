package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Bus publishes events on NATS: an embedded server on loopback by default, or
// an external cluster when a URL is given.
type Bus struct {
	source string
	board  *Board
	nc     *nats.Conn
	srv    *server.Server // nil with an external cluster
	log    *zap.Logger
}

// Options configure the bus.
type Options struct {
	URL            string // external cluster; empty runs the embedded server
	EmbeddedListen string // host:port of the embedded server
	Source         string // this ccd's instance name, stamped on events
	Logger         *zap.Logger
}

// Open starts the embedded server if needed and connects.
func Open(o Options) (*Bus, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	b := &Bus{source: o.Source, board: NewBoard(), log: o.Logger}
	url := o.URL
	if url == "" {
		host, portStr, err := net.SplitHostPort(o.EmbeddedListen)
		if err != nil {
			return nil, fmt.Errorf("cti: embedded NATS listen %q: %w", o.EmbeddedListen, err)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil {
			return nil, fmt.Errorf("cti: embedded NATS port %q: %w", portStr, err)
		}
		srv, err := server.NewServer(&server.Options{
			ServerName: "ccd-" + o.Source,
			Host:       host,
			Port:       port,
			NoSigs:     true,
			NoLog:      true,
			MaxPayload: 1 << 20,
		})
		if err != nil {
			return nil, fmt.Errorf("cti: embedded NATS: %w", err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(10 * time.Second) {
			srv.Shutdown()
			return nil, fmt.Errorf("cti: embedded NATS server did not start on %s (port in use?)", o.EmbeddedListen)
		}
		b.srv = srv
		url = srv.ClientURL()
	}
	nc, err := nats.Connect(url,
		nats.Name("ccd "+o.Source),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				o.Logger.Warn("NATS disconnected", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { o.Logger.Info("NATS reconnected", zap.String("url", nc.ConnectedUrl())) }),
	)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("cti: connect NATS %s: %w", url, err)
	}
	b.nc = nc
	return b, nil
}

// ClientURL is where clients reach the bus.
func (b *Bus) ClientURL() string {
	if b.srv != nil {
		return b.srv.ClientURL()
	}
	return b.nc.ConnectedUrl()
}

// Conn is the NATS connection, for subscribers and request handlers.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// Ready reports whether the connection to NATS is up.
func (b *Bus) Ready() error {
	if b.nc == nil || !b.nc.IsConnected() {
		return errors.New("NATS not connected")
	}
	return nil
}

// Board is the desk view kept from the events published here: the snapshot
// source of the agents' streams (see Board).
func (b *Bus) Board() *Board { return b.board }

// Publish sends an event. Publishing is asynchronous in NATS; ctx bounds the
// encoding and marks the call the event belongs to. An AgentEvent gets the
// next seq of its agent's stream.
func (b *Bus) Publish(ctx context.Context, ev Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	env, err := Wrap(b.source, ev)
	if err != nil {
		return err
	}
	return b.board.publish(&env, ev, func(env *Envelope) error {
		data, err := json.Marshal(env)
		if err != nil {
			return fmt.Errorf("cti: encode envelope %s: %w", ev.EventType(), err)
		}
		if err := b.nc.Publish(ev.Subject(), data); err != nil {
			return fmt.Errorf("cti: publish %s: %w", ev.Subject(), err)
		}
		return nil
	})
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	if b.nc != nil {
		_ = b.nc.FlushTimeout(2 * time.Second)
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}
