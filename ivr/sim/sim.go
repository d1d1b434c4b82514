// Package sim runs a flow without a phone: a scripted caller types groups of
// keys, one group each time the flow waits for input, and the transcript
// shows every prompt, input, variable, branch and the end. It uses the same
// engine as real calls.
package sim

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ccd-platform/ccd/flows"
	"github.com/ccd-platform/ccd/ivr"
)

// ParseInputs splits "2,1,6901234567892#" into the groups the caller types.
// An empty group ("2,,1") is a time-out with no key.
func ParseInputs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	groups := strings.Split(s, ",")
	for i, g := range groups {
		g = strings.TrimSpace(g)
		for _, r := range g {
			if !strings.ContainsRune("0123456789*#ABCD", r) {
				return nil, fmt.Errorf("input %d (%q): %q is not a keypad key", i+1, g, r)
			}
		}
		groups[i] = g
	}
	return groups, nil
}

// Channel is a scripted caller.
type Channel struct {
	mu       sync.Mutex
	groups   []string
	keys     *ivr.Keys
	vars     map[string]string
	answered bool
	hungUp   bool
	out      io.Writer
	messages int
}

var (
	_ ivr.Channel    = (*Channel)(nil)
	_ ivr.Recorder   = (*Channel)(nil)
	_ ivr.Transferer = (*Channel)(nil)
)

// NewChannel returns a caller that will type groups, one per wait for input.
func NewChannel(groups []string, vars map[string]string, out io.Writer) *Channel {
	return &Channel{groups: groups, keys: ivr.NewKeys(), vars: vars, out: out}
}

func (c *Channel) Answer(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.answered {
		fmt.Fprintln(c.out, "  answer")
	}
	c.answered = true
	return nil
}

// Play returns at once: simulated time does not wait for prompts.
func (c *Channel) Play(context.Context, ivr.Prompt) (ivr.PlayResult, error) {
	return ivr.PlayResult{}, nil
}

// CollectDigits hands the flow the next group of keys; with none left the
// caller stays silent (a time-out).
func (c *Channel) CollectDigits(ctx context.Context, spec ivr.DigitSpec) (ivr.Digits, error) {
	c.mu.Lock()
	if c.keys.Len() == 0 && len(c.groups) > 0 {
		g := c.groups[0]
		c.groups = c.groups[1:]
		for _, r := range g {
			c.keys.Push(r)
		}
	}
	c.mu.Unlock()
	spec.FirstTimeout, spec.InterTimeout = time.Millisecond, time.Millisecond
	return c.keys.Collect(ctx, spec)
}

func (c *Channel) Hangup(context.Context, string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.hungUp {
		fmt.Fprintln(c.out, "  hang up")
	}
	c.hungUp = true
	return nil
}

func (c *Channel) Var(name string) string { return c.vars[name] }

// Record pretends the caller spoke for a few seconds.
func (c *Channel) Record(_ context.Context, spec ivr.RecordSpec) (ivr.Recording, error) {
	c.mu.Lock()
	c.messages++
	n := c.messages
	c.mu.Unlock()
	fmt.Fprintf(c.out, "  record message (max %s, beep %v)\n", spec.MaxDuration, spec.Beep)
	return ivr.Recording{Name: fmt.Sprintf("simulated-message-%d", n), Duration: 5 * time.Second}, nil
}

// Transfer pretends the far end answered.
func (c *Channel) Transfer(_ context.Context, to string, timeout time.Duration) error {
	fmt.Fprintf(c.out, "  transfer to %s (timeout %s)\n", to, timeout)
	return nil
}

// Queuer stands in for the ACD: the caller is said to reach an agent at once.
type Queuer struct{ W io.Writer }

func (q Queuer) Queue(_ context.Context, _ ivr.Channel, req ivr.QueueRequest) (ivr.QueueResult, error) {
	fmt.Fprintf(q.W, "  queue %s (priority %d): an agent answers\n", req.Queue, req.Priority)
	return ivr.QueueResult{Outcome: ivr.QueueConnected, Agent: "simulated"}, nil
}

// Transcript writes what the flow does, one line per step.
type Transcript struct{ W io.Writer }

func (t Transcript) Node(name, typ string) { fmt.Fprintf(t.W, "[%s] %s\n", name, typ) }
func (t Transcript) Prompt(text string, media []string) {
	if text != "" {
		fmt.Fprintf(t.W, "  say %q\n", text)
		return
	}
	if len(media) > 0 {
		fmt.Fprintf(t.W, "  play %s\n", strings.Join(media, " "))
	}
}
func (t Transcript) Input(node, keys string, end ivr.End) {
	if keys == "" {
		fmt.Fprintf(t.W, "  caller keys nothing (%s)\n", end)
		return
	}
	fmt.Fprintf(t.W, "  caller keys %s (%s)\n", keys, end)
}
func (t Transcript) Var(name, value string) { fmt.Fprintf(t.W, "  set %s = %q\n", name, value) }
func (t Transcript) Branch(node, reason, next string) {
	if next == "" {
		next = "(end)"
	}
	fmt.Fprintf(t.W, "  %s -> %s\n", reason, next)
}

// Speaker stands in for TTS: the transcript shows the text itself.
type Speaker struct{}

func (Speaker) Speak(_ context.Context, lang, text string) (string, error) {
	return "tts:" + lang + ":" + text, nil
}

// Options of a simulation.
type Options struct {
	Inputs []string
	Caller string
	DID    string
	Now    time.Time // the clock the schedule nodes see; zero: now
	Deps   ivr.Deps  // Trace, Flows, Validate as for real calls; Speaker and Now are set here
}

// Run simulates doc and writes the transcript to out.
func Run(ctx context.Context, doc *flows.Doc, o Options, out io.Writer) (ivr.FlowResult, error) {
	d := o.Deps
	d.Speaker = Speaker{}
	if d.Queue == nil {
		d.Queue = Queuer{W: out}
	}
	if !o.Now.IsZero() {
		now := o.Now
		d.Now = func() time.Time { return now }
	}
	vars := map[string]string{"caller": o.Caller, "did": o.DID, "call_id": "simulation"}
	ch := NewChannel(o.Inputs, vars, out)
	res, err := ivr.NewEngine(d).Run(ctx, ch, doc, vars, Transcript{W: out})
	fmt.Fprintf(out, "end: %s (%s) after node %s; inputs %q\n", res.Outcome, res.End, res.LastNode, res.Digits())
	return res, err
}
