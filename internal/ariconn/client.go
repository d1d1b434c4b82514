// Package ariconn keeps ccd connected to Asterisk's REST Interface: REST
// requests bounded by the caller's context, and the event WebSocket kept open
// with reconnect and exponential backoff across Asterisk restarts. Event and
// object types come from github.com/CyCoreSystems/ari/v5.
package ariconn

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"go.uber.org/zap"
	"golang.org/x/net/websocket"
)

var errorsIs = errors.Is

// Options configure a Client. URL, User, Password and App are required.
type Options struct {
	URL            string // http://127.0.0.1:8088 (with or without /ari)
	User, Password string
	App            string
	RequestTimeout time.Duration
	ReconnectMin   time.Duration
	ReconnectMax   time.Duration
	Logger         *zap.Logger
	// OnEvent receives every event of the application, in order, from one goroutine.
	OnEvent func(ari.Event)
	// OnReceived, when set, is called with each event and the moment its
	// frame was read off the WebSocket, right after OnEvent returned (so it
	// is not part of what it times). Benchmarks use it to time what ccd does
	// with an event, e.g. up to the CTI event it publishes. It runs on the
	// event goroutine and must return quickly. Unset, it costs nothing, not
	// even a clock read.
	OnReceived func(ev ari.Event, received time.Time)
	// OnConnect runs after each (re)connection of the event stream, before events flow.
	OnConnect func(ctx context.Context, info *ari.AsteriskInfo)
	// OnDisconnect runs when the event stream is lost.
	OnDisconnect func(err error)
}

// Client is one ARI connection.
type Client struct {
	opts Options
	base string // http://host:port
	http *http.Client
	log  *zap.Logger

	mu        sync.Mutex
	connected bool
	lastErr   error
	since     time.Time
}

// New validates the options; Run opens the event stream.
func New(o Options) (*Client, error) {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = 200 * time.Millisecond
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.User == "" || o.Password == "" || o.App == "" {
		return nil, errors.New("ariconn: user, password and app are required")
	}
	u, err := url.Parse(strings.TrimSuffix(strings.TrimSuffix(o.URL, "/"), "/ari"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ariconn: bad URL %q", o.URL)
	}
	return &Client{
		opts: o,
		base: u.String(),
		http: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     90 * time.Second,
		}},
		log:     o.Logger.With(zap.String("ari", u.Host)),
		lastErr: errors.New("not connected yet"),
	}, nil
}

// Status reports whether the event stream is up, and the last error if not.
func (c *Client) Status() (connected bool, since time.Time, lastErr error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected, c.since, c.lastErr
}

// Connected reports whether the event stream is up.
func (c *Client) Connected() bool {
	ok, _, _ := c.Status()
	return ok
}

func (c *Client) setState(ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok != c.connected {
		c.since = time.Now()
	}
	c.connected, c.lastErr = ok, err
}

// Run keeps the event stream open until ctx ends. It returns ctx's error.
func (c *Client) Run(ctx context.Context) error {
	backoff := c.opts.ReconnectMin
	for ctx.Err() == nil {
		start := time.Now()
		err := c.session(ctx)
		if ctx.Err() != nil {
			break
		}
		c.setState(false, err)
		if c.opts.OnDisconnect != nil {
			c.opts.OnDisconnect(err)
		}
		// A stream that stayed up for a while starts the backoff afresh.
		if time.Since(start) > 10*time.Second {
			backoff = c.opts.ReconnectMin
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		lvl := c.log.Warn
		if errors.Is(err, ErrUnauthorized) {
			lvl = c.log.Error
		}
		lvl("ARI event stream down; reconnecting", zap.Error(err), zap.Duration("retry_in", wait))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		backoff = min(backoff*2, c.opts.ReconnectMax)
	}
	c.setState(false, context.Cause(ctx))
	return ctx.Err()
}

// session runs one connection of the event stream until it fails or ctx ends.
func (c *Client) session(ctx context.Context) error {
	// The REST check first: it tells a credential problem from an unreachable
	// Asterisk, which the WebSocket handshake cannot.
	info, err := c.Info(ctx)
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			return fmt.Errorf("%w: user %q at %s (compare ari.user/ari.password with the Asterisk instance's credentials.env)", ErrUnauthorized, c.opts.User, c.base)
		}
		return err
	}
	wsURL := strings.Replace(c.base, "http", "ws", 1) + "/ari/events?" + url.Values{
		"app": {c.opts.App}, "subscribeAll": {"false"},
	}.Encode()
	cfg, err := websocket.NewConfig(wsURL, "http://localhost/")
	if err != nil {
		return err
	}
	cfg.Header.Set("Authorization", "Basic "+basicAuth(c.opts.User, c.opts.Password))
	dialCtx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	ws, err := cfg.DialContext(dialCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: event stream %s: %v", ErrUnreachable, c.base, err)
	}
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	defer ws.Close()

	c.setState(true, nil)
	c.log.Info("ARI event stream connected",
		zap.String("asterisk_version", info.SystemInfo.Version),
		zap.String("entity_id", info.SystemInfo.EntityID),
		zap.String("app", c.opts.App))
	if c.opts.OnConnect != nil {
		c.opts.OnConnect(ctx, info)
	}
	for {
		var data []byte
		if err := websocket.Message.Receive(ws, &data); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: event stream closed: %v", ErrUnreachable, err)
		}
		var received time.Time
		if c.opts.OnReceived != nil {
			received = time.Now()
		}
		ev, err := ari.DecodeEvent(data)
		if err != nil {
			c.log.Warn("undecodable ARI event", zap.Error(err), zap.ByteString("event", truncate(data, 512)))
			continue
		}
		if c.opts.OnEvent != nil {
			c.opts.OnEvent(ev)
		}
		if c.opts.OnReceived != nil {
			c.opts.OnReceived(ev, received)
		}
	}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
