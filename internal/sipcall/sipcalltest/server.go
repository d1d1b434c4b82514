// Package sipcalltest runs an in-process answering SIP endpoint (a stand-in
// for the trunk side) on a random loopback port, for tests of callers. It
// speaks real SIP and RTP through diago; no Asterisk is involved.
package sipcalltest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Request is a SIP request the server received.
type Request struct {
	Method string
	CallID string
	// Source is the address it came from, "ip:port".
	Source string
	Reason string // Reason header, if any
	At     time.Time
}

// Server answers calls with a handler. Create it with Start.
type Server struct {
	// Addr is "127.0.0.1:port", ready for sipcall.Options.Target.
	Addr      string
	Transport string

	mu     sync.Mutex
	reqs   []Request
	active int           // running handlers
	notify chan struct{} // closed and replaced on every change
}

// Start serves handler on a random port of 127.0.0.1 over transport ("udp"
// or "tcp") until the test ends. Each call runs handler in its own goroutine;
// when it returns, diago hangs up if the call is still up. Cleanup waits for
// handlers to return and fails the test if one is stuck.
func Start(t testing.TB, transport string, handler func(d *diago.DialogServerSession)) *Server {
	t.Helper()
	s := &Server{Transport: transport, notify: make(chan struct{})}
	log := slog.New(slog.DiscardHandler)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("trunk"),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(log)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(log)),
	)
	if err != nil {
		t.Fatal(err)
	}
	dg := diago.NewDiago(ua,
		diago.WithLogger(log),
		diago.WithTransport(diago.Transport{Transport: transport, BindHost: "127.0.0.1", BindPort: 0}),
		diago.WithServerRequestMiddleware(s.note),
	)
	ctx, cancel := context.WithCancel(context.Background())
	err = dg.ServeBackground(ctx, func(d *diago.DialogServerSession) {
		s.track(1)
		defer s.track(-1)
		handler(d)
	})
	if err != nil {
		cancel()
		ua.Close()
		t.Fatalf("sipcalltest: serve: %v", err)
	}
	port, err := listenPort(dg, transport)
	if err != nil {
		cancel()
		ua.Close()
		t.Fatalf("sipcalltest: %v", err)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	t.Cleanup(func() {
		if !s.Idle(10 * time.Second) {
			t.Errorf("sipcalltest: a call handler is still running 10s after the test")
		}
		cancel()
		ua.Close()
	})
	return s
}

// listenPort is the port diago bound. sipgo's own record of listen ports is
// written after ServeBackground returns and read without a lock, so the port
// is taken from the Contact diago would put in a REGISTER: it is set before
// ServeBackground returns. Nothing is sent.
func listenPort(dg *diago.Diago, transport string) (int, error) {
	uri := sip.Uri{Scheme: "sip", Host: "127.0.0.1", UriParams: sip.NewParams()}
	uri.UriParams.Add("transport", transport)
	rt, err := dg.RegisterTransaction(context.Background(), uri, diago.RegisterOptions{})
	if err != nil {
		return 0, err
	}
	c := rt.Origin.Contact()
	if c == nil || c.Address.Port == 0 {
		return 0, errors.New("no listen port")
	}
	return c.Address.Port, nil
}

func (s *Server) note(next sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		r := Request{Method: req.Method.String(), Source: req.Source(), At: time.Now()}
		if h := req.CallID(); h != nil {
			r.CallID = h.Value()
		}
		if h := req.GetHeader("Reason"); h != nil {
			r.Reason = h.Value()
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		s.changedLocked()
		s.mu.Unlock()
		next(req, tx)
	}
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// WaitRequest waits up to timeout for a request with method (e.g. "BYE")
// and returns the first one.
func (s *Server) WaitRequest(method string, timeout time.Duration) (Request, bool) {
	var found Request
	ok := s.waitUntil(timeout, func() bool {
		for _, r := range s.reqs {
			if r.Method == method {
				found = r
				return true
			}
		}
		return false
	})
	return found, ok
}

func (s *Server) track(delta int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active += delta
	s.changedLocked()
}

func (s *Server) changedLocked() {
	close(s.notify)
	s.notify = make(chan struct{})
}

// waitUntil waits up to timeout for cond, evaluated under the lock after
// every change.
func (s *Server) waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok, ch := cond(), s.notify
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

// Idle waits up to timeout for every call handler to return.
func (s *Server) Idle(timeout time.Duration) bool {
	return s.waitUntil(timeout, func() bool { return s.active == 0 })
}

// Play streams p to the caller in real time through the negotiated codec.
// p must be at audio.Rate.
func Play(d *diago.DialogServerSession, p audio.PCM) error {
	if p.Rate != audio.Rate {
		return fmt.Errorf("sipcalltest: play: rate %d, want %d", p.Rate, audio.Rate)
	}
	pb, err := d.PlaybackCreate()
	if err != nil {
		return err
	}
	raw := make([]byte, 2*len(p.Samples))
	for i, v := range p.Samples {
		binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
	}
	_, err = pb.Play(bytes.NewReader(raw), "audio/pcm")
	return err
}

// ReadDigits collects DTMF (RFC 4733) until n keys arrived, timeout passed
// or the call ended, and returns the keys in order. Audio read meanwhile is
// discarded.
func ReadDigits(d *diago.DialogServerSession, n int, timeout time.Duration) (string, error) {
	var got []rune
	errEnough := errors.New("enough digits")
	r := d.AudioReaderDTMF()
	r.OnDTMF(func(k rune) error {
		got = append(got, k)
		if len(got) >= n {
			return errEnough
		}
		return nil
	})
	// One read deadline for the whole wait: the caller's steady RTP would
	// renew a per-read one forever.
	if err := d.StopRTP(1, timeout); err != nil {
		return "", err
	}
	defer d.StartRTP(1, 0)
	buf := make([]byte, media.RTPBufSize)
	for {
		if _, err := r.Read(buf); err != nil {
			switch {
			case errors.Is(err, errEnough):
				return string(got), nil
			case errors.Is(err, os.ErrDeadlineExceeded):
				return string(got), fmt.Errorf("sipcalltest: %d of %d digits after %v", len(got), n, timeout)
			}
			return string(got), err
		}
	}
}

// HangupWithReason sends BYE carrying a Reason header, as Asterisk does
// (e.g. `Q.850;cause=16;text="Normal Clearing"`).
func HangupWithReason(ctx context.Context, d *diago.DialogServerSession, reason string) error {
	bye := sip.NewRequest(sip.BYE, d.InviteRequest.Contact().Address)
	bye.SetTransport(d.InviteRequest.Transport())
	bye.AppendHeader(sip.NewHeader("Reason", reason))
	return d.WriteBye(ctx, bye)
}
