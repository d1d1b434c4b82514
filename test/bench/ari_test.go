package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/nats-io/nats.go"

	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
)

// ARI event → CTI event on NATS: how long ccd takes from reading an event
// off Asterisk's WebSocket to the CTI event it publishes reaching a NATS
// subscriber. The bench stack's ccd reports when it read each event
// (harness.Options.ARIReceived, ariconn's OnReceived hook); a subscriber on
// its own connection to the embedded NATS server notes when each call event
// arrives; the two are matched per call.

// keysDID is the number whose flow collects the callers' keys.
const keysDID = "4006009300"

// keysFlow answers and collects up to 64 keys until #, then hangs up.
const keysFlow = `name: keys
languages: [en]
default_language: en
start: keys
nodes:
  keys:
    type: collect
    prompt: {text: {en: "Keys."}}
    var: keys
    min: 1
    max: 64
    terminator: "#"
    first_timeout: 10s
    inter_timeout: 5s
    retries: 0
    next: bye
    fail_next: bye
  bye:
    type: hangup
`

// keysPerCall: each caller sends this many keys, then #.
const keysPerCall = 40

// ariSeen is an ARI event the benchmark matches, and when ccd read it.
type ariSeen struct {
	typ     string // StasisStart, ChannelDtmfReceived, ChannelDestroyed
	channel string
	digit   string
	at      time.Time
}

// ariRecorder keeps, while on, the ARI events of callers' channels. Its
// observe is the bench stack's ARIReceived: off, it only loads a flag.
type ariRecorder struct {
	on     atomic.Bool
	mu     sync.Mutex
	events []ariSeen
}

var ariTimes ariRecorder

func (r *ariRecorder) observe(ev ari.Event, at time.Time) {
	if !r.on.Load() {
		return
	}
	var s ariSeen
	switch e := ev.(type) {
	case *ari.StasisStart:
		s = ariSeen{typ: "StasisStart", channel: e.Channel.ID}
	case *ari.ChannelDtmfReceived:
		s = ariSeen{typ: "ChannelDtmfReceived", channel: e.Channel.ID, digit: e.Digit}
	case *ari.ChannelDestroyed:
		s = ariSeen{typ: "ChannelDestroyed", channel: e.Channel.ID}
	default:
		return
	}
	s.at = at
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

// start empties the recorder and turns it on.
func (r *ariRecorder) start() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
	r.on.Store(true)
}

// stop turns it off and returns what it kept.
func (r *ariRecorder) stop() []ariSeen {
	r.on.Store(false)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ariSeen(nil), r.events...)
}

// natsSeen is a call event as a NATS subscriber received it.
type natsSeen struct {
	env cti.Envelope
	at  time.Time
}

// callEvents subscribes to every call event on its own connection and
// notes when each arrives.
type callEvents struct {
	nc   *nats.Conn
	mu   sync.Mutex
	msgs []*nats.Msg
	at   []time.Time
}

func subscribeCallEvents(url string) (*callEvents, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	c := &callEvents{nc: nc}
	_, err = nc.Subscribe(cti.AllCallEvents(), func(m *nats.Msg) {
		at := time.Now()
		c.mu.Lock()
		c.msgs, c.at = append(c.msgs, m), append(c.at, at)
		c.mu.Unlock()
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// events decodes what arrived so far.
func (c *callEvents) events() ([]natsSeen, error) {
	c.mu.Lock()
	msgs, at := c.msgs, c.at
	c.mu.Unlock()
	out := make([]natsSeen, 0, len(msgs))
	for i, m := range msgs {
		var env cti.Envelope
		if err := json.Unmarshal(m.Data, &env); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Subject, err)
		}
		out = append(out, natsSeen{env: env, at: at[i]})
	}
	return out, nil
}

func (c *callEvents) close() { c.nc.Close() }

// eventLatencies are the ARI → NATS delays of one run.
type eventLatencies struct {
	keys, started, ended []time.Duration
}

// matchEvents pairs, for the calls of callIDs, each ARI event with the CTI
// event it led to: the n-th ChannelDtmfReceived of a channel with the n-th
// call.key of its call (the same key), StasisStart with call.started,
// ChannelDestroyed with call.ended. Every key must be matched.
func matchEvents(aris []ariSeen, evs []natsSeen, callIDs map[string]bool) (eventLatencies, error) {
	type callSide struct {
		channel      string
		keys         []natsSeen
		started, end *natsSeen
	}
	calls := map[string]*callSide{}
	byChannel := map[string]*callSide{}
	for i := range evs {
		e := &evs[i]
		var p struct {
			CallID    string `json:"call_id"`
			ChannelID string `json:"channel_id"`
			Key       string `json:"key"`
		}
		if err := e.env.Decode(&p); err != nil || !callIDs[p.CallID] {
			continue
		}
		c := calls[p.CallID]
		if c == nil {
			c = &callSide{}
			calls[p.CallID] = c
		}
		switch e.env.Type {
		case "call.started":
			c.channel, c.started = p.ChannelID, e
			byChannel[p.ChannelID] = c
		case "call.key":
			c.keys = append(c.keys, *e)
		case "call.ended":
			c.end = e
		}
	}
	var out eventLatencies
	if len(calls) != len(callIDs) {
		return out, fmt.Errorf("events of %d calls seen on NATS, want %d", len(calls), len(callIDs))
	}
	next := map[string]int{} // channel → keys matched so far
	for _, a := range aris {
		c := byChannel[a.channel]
		if c == nil {
			continue // not a caller of this run
		}
		switch a.typ {
		case "StasisStart":
			out.started = append(out.started, c.started.at.Sub(a.at))
		case "ChannelDestroyed":
			if c.end == nil {
				return out, fmt.Errorf("channel %s: no call.ended", a.channel)
			}
			out.ended = append(out.ended, c.end.at.Sub(a.at))
		case "ChannelDtmfReceived":
			n := next[a.channel]
			if n >= len(c.keys) {
				return out, fmt.Errorf("channel %s: key %d (%s) read from ARI, only %d call.key events", a.channel, n+1, a.digit, len(c.keys))
			}
			var k cti.CallKey
			if err := c.keys[n].env.Decode(&k); err != nil || k.Key != a.digit {
				return out, fmt.Errorf("channel %s: key %d is %s on ARI, %q on NATS (%v)", a.channel, n+1, a.digit, k.Key, err)
			}
			out.keys = append(out.keys, c.keys[n].at.Sub(a.at))
			next[a.channel] = n + 1
		}
	}
	for id, c := range calls {
		if next[c.channel] != len(c.keys) {
			return out, fmt.Errorf("call %s: %d call.key events, %d keys read from ARI", id, len(c.keys), next[c.channel])
		}
	}
	return out, nil
}

var keysSeq atomic.Int64

// keyCalls places n calls to keysDID, each sending keysPerCall keys and #,
// starting one every stagger (all at once: 0; one after another: negative),
// and returns their call IDs once every one is over.
func keyCalls(ctx context.Context, n int, stagger time.Duration) (map[string]bool, error) {
	keys := make([]string, 0, keysPerCall+1)
	for i := range keysPerCall {
		keys = append(keys, string(rune('0'+i%10)))
	}
	digits, err := sipcall.ParseDigits("w300,"+strings.Join(keys, ",")+",#", 80*time.Millisecond)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	ids := map[string]bool{}
	errs := make([]error, n)
	one := func(i int) {
		from := fmt.Sprintf("1392%07d", keysSeq.Add(1))
		res, err := sipcall.Call(ctx, sipcall.Options{Target: stack.SIPAddr(), DID: keysDID, From: from,
			Digits: digits, MaxDuration: 60 * time.Second})
		if err == nil && !res.Answered {
			err = fmt.Errorf("not answered: %d", res.StatusCode)
		}
		var cs cti.CallStarted
		if err == nil {
			cs, err = stack.Events().WaitStarted(ctx, from)
		}
		if err == nil {
			_, err = stack.Events().WaitCall(ctx, "call.ended", cs.CallID)
		}
		if err != nil {
			errs[i] = fmt.Errorf("caller %s: %w", from, err)
			return
		}
		mu.Lock()
		ids[cs.CallID] = true
		mu.Unlock()
	}
	if stagger < 0 {
		for i := range n {
			one(i)
		}
	} else {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				one(i)
			}()
			time.Sleep(stagger)
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return ids, err
		}
	}
	return ids, nil
}

var ariHeader sync.Once

// BenchmarkARIToNATS measures, for real calls, the time from ccd's ARI
// client reading an event off the WebSocket to the CTI event it led to
// reaching a NATS subscriber: every key a caller presses
// (ChannelDtmfReceived → call.key, the goal: p99 < 2 ms), and the start and
// end of each call (call.started and call.ended come after the call detail
// record and the live state are written).
func BenchmarkARIToNATS(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := stack.PublishFlow(ctx, "keys", []byte(keysFlow), keysDID); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		calls   int
		stagger time.Duration
		callers string
	}{
		{"sequential", 5, -1, "1 at a time, 5 calls"},
		{"concurrent", 10, 50 * time.Millisecond, "10 at once, 50 ms apart"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sub, err := subscribeCallEvents(stack.CCD().NATSURL())
			if err != nil {
				b.Fatal(err)
			}
			defer sub.close()
			ariTimes.start()
			ids, err := keyCalls(ctx, tc.calls, tc.stagger)
			if err != nil {
				ariTimes.stop()
				b.Fatal(err)
			}
			// The subscriber here may be a little behind the harness's.
			var lat eventLatencies
			err = harness.Eventually(ctx, 10*time.Second, func() error {
				evs, err := sub.events()
				if err != nil {
					return err
				}
				ariTimes.mu.Lock()
				aris := append([]ariSeen(nil), ariTimes.events...)
				ariTimes.mu.Unlock()
				lat, err = matchEvents(aris, evs, ids)
				if err == nil && len(lat.ended) != len(ids) {
					err = fmt.Errorf("%d of %d ChannelDestroyed matched", len(lat.ended), len(ids))
				}
				return err
			})
			ariTimes.stop()
			if err != nil {
				b.Fatal(err)
			}
			if want := len(ids) * (keysPerCall + 1); len(lat.keys) != want {
				b.Fatalf("%d keys matched, want %d", len(lat.keys), want)
			}
			b.ReportMetric(float64(percentile(lat.keys, 0.5).Microseconds())/1000, "key-p50-ms")
			b.ReportMetric(float64(percentile(lat.keys, 0.99).Microseconds())/1000, "key-p99-ms")
			repMu.Lock()
			defer repMu.Unlock()
			ariHeader.Do(func() {
				fmt.Fprintf(&report, "\n## ARI event received → CTI event on NATS\n\n"+
					"Real calls (diago callers) to a flow that collects keys: each caller sends %d DTMF keys and # (RFC 4733, 80 ms apart), then the flow hangs up. "+
					"Measured from the moment ccd's ARI client read the event's frame off the WebSocket (ariconn's OnReceived hook) to the moment a NATS subscriber "+
					"(its own connection to ccd's embedded server) received the CTI event it led to. Goal: p99 < 2 ms for a key. "+
					"call.started and call.ended come after the call detail record (PostgreSQL) and the live state (Redis) are written, and call.started after the ARI channel subscription.\n\n"+
					"| ARI event → CTI event | callers | events | p50 | p99 | max |\n|---|---|---|---|---|---|\n", keysPerCall)
			})
			row := func(name string, ds []time.Duration) {
				fmt.Fprintf(&report, "| %s | %s | %d | %s | %s | %s |\n", name, tc.callers, len(ds),
					short(percentile(ds, 0.5)), short(percentile(ds, 0.99)), short(percentile(ds, 1)))
			}
			row("ChannelDtmfReceived → call.key", lat.keys)
			row("StasisStart → call.started", lat.started)
			row("ChannelDestroyed → call.ended", lat.ended)
		})
	}
}

// short rounds a latency for the report: to the microsecond below 1 ms, to
// 10 µs below 100 ms, to the millisecond above.
func short(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < 100*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
