package ivr

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/ccd-platform/ccd/flows"
)

// Errors of the flow engine.
var (
	// ErrTraceNotFound: the code is well-formed but no record exists.
	ErrTraceNotFound = errors.New("trace code not found")
	// ErrTraceUnavailable: the lookup could not be made (service down, timeout).
	ErrTraceUnavailable = errors.New("trace lookup unavailable")
	// ErrTooManySteps stops a flow that runs in circles.
	ErrTooManySteps = errors.New("flow exceeded its step limit")
	// ErrFlowNotFound: a goto_flow target has no published version.
	ErrFlowNotFound = errors.New("flow not found")
	// ErrUnsupported: the channel cannot do what the node asks (record, transfer).
	ErrUnsupported = errors.New("not supported by this channel")
)

// TraceLookup finds a trace code's record and returns the read-out variables
// (trace.*) in a language. It wraps ErrTraceNotFound or ErrTraceUnavailable.
type TraceLookup interface {
	LookupVars(ctx context.Context, code, lang string) (map[string]string, error)
}

// Speaker turns a text into media a Channel can play (e.g. TTS served over HTTP).
type Speaker interface {
	Speak(ctx context.Context, lang, text string) (media string, err error)
}

// FlowLoader loads the published version of another flow for goto_flow.
type FlowLoader interface {
	LoadFlow(ctx context.Context, name string) (*flows.Doc, error)
}

// Recorder is a Channel that can record what the caller says (leave a message).
type Recorder interface {
	Record(ctx context.Context, spec RecordSpec) (Recording, error)
}

// RecordSpec says how to record a message.
type RecordSpec struct {
	MaxDuration    time.Duration
	SilenceTimeout time.Duration
	Beep           bool
	TerminateOn    rune
}

// Recording is a finished recording.
type Recording struct {
	Name     string
	Duration time.Duration
}

// Messages stores left messages.
type Messages interface {
	SaveMessage(ctx context.Context, m Message) error
}

// Message is a message a caller left.
type Message struct {
	CallID    string
	Caller    string
	DID       string
	Flow      string
	Node      string
	Language  string
	Recording Recording
	At        time.Time
}

// Transferer is a Channel that can connect the caller to another party.
type Transferer interface {
	Transfer(ctx context.Context, to string, timeout time.Duration) error
}

// CodeValidator checks a collected value for a collect node's validator.
type CodeValidator func(validator, value string) error

// Observer sees what a flow does, for transcripts (simulator) and logs.
type Observer interface {
	Node(name, typ string)
	Prompt(text string, media []string)
	Input(node, keys string, end End)
	Var(name, value string)
	Branch(node, reason, next string)
}

// Deps are the engine's collaborators. Nil ones make the matching nodes fail
// with a clear error (and take their error branch where they have one).
type Deps struct {
	Trace    TraceLookup
	Speaker  Speaker
	Flows    FlowLoader
	Messages Messages
	Validate CodeValidator
	Queue    Queuer
	Now      func() time.Time
	MaxSteps int
}

// Engine runs flow documents on channels.
type Engine struct {
	deps Deps
}

// NewEngine returns an engine.
func NewEngine(d Deps) *Engine {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.MaxSteps <= 0 {
		d.MaxSteps = 500
	}
	return &Engine{deps: d}
}

// FlowResult is what a flow run produced.
type FlowResult struct {
	Answered bool
	Inputs   []string // every input the caller gave, in order
	Outcome  Outcome
	End      string // why it ended: "hangup node", "no next", "transferred", ...
	Vars     map[string]string
	Flow     string
	LastNode string
}

// Digits renders the inputs for the call record: "2,1,6901234567892".
func (r FlowResult) Digits() string { return strings.Join(r.Inputs, ",") }

// OutcomeTransferred: the caller was connected elsewhere.
const OutcomeTransferred Outcome = "transferred"

type run struct {
	timedOut bool // a node gave up because the caller keyed nothing
	e        *Engine
	ch       Channel
	obs      Observer
	doc      *flows.Doc
	vars     map[string]string
	res      *FlowResult
}

// Run executes doc on ch from its start node. vars seeds the variables
// (caller, did, call_id). The error is nil when the flow ended normally or
// the caller hung up.
func (e *Engine) Run(ctx context.Context, ch Channel, doc *flows.Doc, vars map[string]string, obs Observer) (FlowResult, error) {
	if obs == nil {
		obs = nopObserver{}
	}
	r := &run{e: e, ch: ch, obs: obs, doc: doc, vars: map[string]string{}, res: &FlowResult{Flow: doc.Name}}
	for k, v := range doc.Vars {
		r.vars[k] = v
	}
	for k, v := range vars {
		r.vars[k] = v
	}
	if r.vars["language"] == "" {
		r.vars["language"] = doc.DefaultLanguage
	}
	r.res.Vars = r.vars
	err := r.loop(ctx)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			if errors.Is(cause, ErrHangup) {
				r.res.Outcome, r.res.End = OutcomeAbandoned, "caller hung up"
				return *r.res, nil
			}
			r.res.Outcome = OutcomeShutdown
			return *r.res, fmt.Errorf("node %s: %w", r.res.LastNode, cause)
		}
		r.res.Outcome = OutcomeFailed
		return *r.res, fmt.Errorf("flow %s node %s: %w", r.doc.Name, r.res.LastNode, err)
	}
	if r.res.Outcome == "" {
		r.res.Outcome = OutcomeCompleted
		if len(r.res.Inputs) == 0 && r.timedOut {
			r.res.Outcome = OutcomeNoInput
		}
	}
	return *r.res, nil
}

func (r *run) loop(ctx context.Context) error {
	name := r.doc.Start
	for step := 0; ; step++ {
		if step >= r.e.deps.MaxSteps {
			return ErrTooManySteps
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if name == "" {
			r.res.End = "no next node"
			return r.hangup(ctx, nil)
		}
		n, ok := r.doc.Nodes[name]
		if !ok {
			return fmt.Errorf("node %q does not exist", name)
		}
		r.res.LastNode = name
		r.obs.Node(name, n.Type)
		next, done, err := r.exec(ctx, name, n)
		if err != nil || done {
			return err
		}
		name = next
	}
}

func (r *run) exec(ctx context.Context, name string, n *flows.Node) (next string, done bool, err error) {
	switch n.Type {
	case flows.TypeAnswer:
		return n.Next, false, r.answer(ctx)
	case flows.TypePlay:
		if err := r.answer(ctx); err != nil {
			return "", false, err
		}
		_, err := r.play(ctx, n.Prompt, bargeIn(n.BargeIn))
		return n.Next, false, err
	case flows.TypeMenu:
		return r.menu(ctx, name, n)
	case flows.TypeCollect:
		return r.collect(ctx, name, n)
	case flows.TypeLanguage:
		return r.language(ctx, name, n)
	case flows.TypeTraceLookup:
		return r.traceLookup(ctx, name, n)
	case flows.TypeBranch:
		for _, c := range n.Cases {
			if r.vars[c.Var] == c.Equals {
				r.obs.Branch(name, fmt.Sprintf("%s = %q", c.Var, c.Equals), c.Next)
				return c.Next, false, nil
			}
		}
		r.obs.Branch(name, "default", n.Default)
		return n.Default, false, nil
	case flows.TypeSet:
		keys := make([]string, 0, len(n.Vars))
		for k := range n.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r.setVar(k, Expand(n.Vars[k], r.vars))
		}
		return n.Next, false, nil
	case flows.TypeSchedule:
		open, why, err := IsOpen(n, r.e.deps.Now())
		if err != nil {
			return "", false, err
		}
		if open {
			r.obs.Branch(name, why, n.OpenNext)
			return n.OpenNext, false, nil
		}
		r.obs.Branch(name, why, n.ClosedNext)
		return n.ClosedNext, false, nil
	case flows.TypeMessage:
		return r.message(ctx, name, n)
	case flows.TypeTransfer:
		return r.transfer(ctx, name, n)
	case flows.TypeGotoFlow:
		if r.e.deps.Flows == nil {
			return "", false, fmt.Errorf("goto_flow %s: %w", n.Flow, ErrFlowNotFound)
		}
		doc, err := r.e.deps.Flows.LoadFlow(ctx, n.Flow)
		if err != nil {
			return "", false, fmt.Errorf("goto_flow %s: %w", n.Flow, err)
		}
		r.obs.Branch(name, "goto flow", doc.Name+"/"+doc.Start)
		r.doc = doc
		r.res.Flow = doc.Name
		return doc.Start, false, nil
	case flows.TypeQueue:
		return r.queue(ctx, name, n)
	case flows.TypeHangup:
		r.res.End = "hangup node"
		return "", true, r.hangup(ctx, n.Prompt)
	}
	return "", false, fmt.Errorf("unknown node type %q", n.Type)
}

func bargeIn(b *bool) bool { return b == nil || *b }

func (r *run) setVar(k, v string) {
	r.vars[k] = v
	r.obs.Var(k, v)
}

func (r *run) answer(ctx context.Context) error {
	if r.res.Answered {
		return nil
	}
	if err := r.ch.Answer(ctx); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	r.res.Answered = true
	return nil
}

func (r *run) hangup(ctx context.Context, goodbye *flows.Prompt) error {
	if goodbye != nil && r.res.Answered {
		if _, err := r.play(ctx, goodbye, false); err != nil {
			return err
		}
	}
	if err := r.ch.Hangup(ctx, "normal"); err != nil && !errors.Is(context.Cause(ctx), ErrHangup) {
		return fmt.Errorf("hangup: %w", err)
	}
	return nil
}

// resolvePrompt follows a reference to the document's prompts.
func (r *run) resolvePrompt(p *flows.Prompt) (*flows.Prompt, error) {
	if p == nil {
		return nil, nil
	}
	if p.Ref != "" {
		named, ok := r.doc.Prompts[p.Ref]
		if !ok {
			return nil, fmt.Errorf("prompt %q does not exist", p.Ref)
		}
		return &named, nil
	}
	return p, nil
}

// play renders and plays a prompt. A nil prompt plays nothing.
func (r *run) play(ctx context.Context, p *flows.Prompt, barge bool) (PlayResult, error) {
	p, err := r.resolvePrompt(p)
	if err != nil || p == nil {
		return PlayResult{}, err
	}
	var media []string
	var text string
	if len(p.Text) > 0 {
		lang := r.vars["language"]
		t, ok := p.Text[lang]
		if !ok {
			lang = r.doc.DefaultLanguage
			t = p.Text[lang]
		}
		text = Expand(t, r.vars)
		if r.e.deps.Speaker == nil {
			return PlayResult{}, errors.New("text prompt but no speech engine")
		}
		m, err := r.e.deps.Speaker.Speak(ctx, lang, text)
		if err != nil {
			return PlayResult{}, fmt.Errorf("speak %q: %w", text, err)
		}
		media = append(media, m)
	}
	media = append(media, p.Media...)
	r.obs.Prompt(text, media)
	if len(media) == 0 {
		return PlayResult{}, nil
	}
	return r.ch.Play(ctx, Prompt{Media: media, BargeIn: barge})
}

func dur(d flows.Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return time.Duration(d)
}

func retries(n int) int {
	if n <= 0 {
		return 3
	}
	return n
}

func (r *run) input(name string, d Digits) {
	r.obs.Input(name, d.Keys, d.End)
	if d.Keys != "" {
		r.res.Inputs = append(r.res.Inputs, d.Keys)
	}
}

func (r *run) menu(ctx context.Context, name string, n *flows.Node) (string, bool, error) {
	if err := r.answer(ctx); err != nil {
		return "", false, err
	}
	lastEmpty := false
	for attempt := 0; attempt < retries(n.Retries); attempt++ {
		if _, err := r.play(ctx, n.Prompt, true); err != nil {
			return "", false, err
		}
		d, err := r.ch.CollectDigits(ctx, DigitSpec{Max: 1, FirstTimeout: dur(n.Timeout, 5*time.Second), InterTimeout: time.Second})
		if err != nil {
			return "", false, err
		}
		r.input(name, d)
		lastEmpty = d.Keys == ""
		if d.Keys == "" {
			if _, err := r.play(ctx, n.NoInputPrompt, true); err != nil {
				return "", false, err
			}
			continue
		}
		if next, ok := n.Options[d.Keys]; ok {
			r.obs.Branch(name, "key "+d.Keys, next)
			return next, false, nil
		}
		if _, err := r.play(ctx, n.InvalidPrompt, true); err != nil {
			return "", false, err
		}
	}
	r.obs.Branch(name, "retries exhausted", n.FailNext)
	r.timedOut = r.timedOut || lastEmpty
	return n.FailNext, n.FailNext == "", r.failEnd(ctx, n.FailNext)
}

// failEnd hangs up when a node gives up and has nowhere to go.
func (r *run) failEnd(ctx context.Context, next string) error {
	if next != "" {
		return nil
	}
	r.res.End = "retries exhausted"
	return r.hangup(ctx, nil)
}

func (r *run) collect(ctx context.Context, name string, n *flows.Node) (string, bool, error) {
	if err := r.answer(ctx); err != nil {
		return "", false, err
	}
	var term rune
	if n.Terminator != "" {
		term = []rune(n.Terminator)[0]
	}
	lastEmpty := false
	for attempt := 0; attempt < retries(n.Retries); attempt++ {
		if _, err := r.play(ctx, n.Prompt, true); err != nil {
			return "", false, err
		}
		d, err := r.ch.CollectDigits(ctx, DigitSpec{
			Max: n.Max, Terminator: term,
			FirstTimeout: dur(n.FirstTimeout, 8*time.Second), InterTimeout: dur(n.InterTimeout, 4*time.Second),
		})
		if err != nil {
			return "", false, err
		}
		r.input(name, d)
		lastEmpty = d.Keys == ""
		if d.Keys == "" {
			if _, err := r.play(ctx, n.NoInputPrompt, true); err != nil {
				return "", false, err
			}
			continue
		}
		valid := len(d.Keys) >= n.Min
		if valid && n.Validator != "" && r.e.deps.Validate != nil {
			if err := r.e.deps.Validate(n.Validator, d.Keys); err != nil {
				r.obs.Branch(name, "invalid: "+err.Error(), "retry")
				valid = false
			}
		}
		if !valid {
			if _, err := r.play(ctx, n.InvalidPrompt, true); err != nil {
				return "", false, err
			}
			continue
		}
		if n.Var != "" {
			r.setVar(n.Var, d.Keys)
		}
		return n.Next, false, nil
	}
	r.obs.Branch(name, "retries exhausted", n.FailNext)
	r.timedOut = r.timedOut || lastEmpty
	return n.FailNext, n.FailNext == "", r.failEnd(ctx, n.FailNext)
}

func (r *run) language(ctx context.Context, name string, n *flows.Node) (string, bool, error) {
	if err := r.answer(ctx); err != nil {
		return "", false, err
	}
	// The choice is offered in every language of the flow, one after the other.
	for _, lang := range r.doc.Languages {
		saved := r.vars["language"]
		r.vars["language"] = lang
		res, err := r.play(ctx, n.Prompt, true)
		r.vars["language"] = saved
		if err != nil {
			return "", false, err
		}
		if res.Interrupted {
			break
		}
	}
	d, err := r.ch.CollectDigits(ctx, DigitSpec{Max: 1, FirstTimeout: dur(n.Timeout, 5*time.Second), InterTimeout: time.Second})
	if err != nil {
		return "", false, err
	}
	r.input(name, d)
	lang, ok := n.Options[d.Keys]
	if !ok {
		lang = n.Default
		if lang == "" {
			lang = r.doc.DefaultLanguage
		}
	}
	r.setVar("language", lang)
	return n.Next, false, nil
}

func (r *run) traceLookup(ctx context.Context, name string, n *flows.Node) (string, bool, error) {
	code := r.vars[n.CodeVar]
	if r.e.deps.Trace == nil {
		r.obs.Branch(name, "no trace catalog", n.ErrorNext)
		return n.ErrorNext, false, nil
	}
	vars, err := r.e.deps.Trace.LookupVars(ctx, code, r.vars["language"])
	switch {
	case err == nil:
		keys := make([]string, 0, len(vars))
		for k := range vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r.setVar(k, vars[k])
		}
		r.obs.Branch(name, "found", n.FoundNext)
		return n.FoundNext, false, nil
	case ctx.Err() != nil:
		return "", false, err
	case errors.Is(err, ErrTraceNotFound):
		r.obs.Branch(name, "not found", n.NotFoundNext)
		return n.NotFoundNext, false, nil
	default:
		r.obs.Branch(name, "lookup failed: "+err.Error(), n.ErrorNext)
		return n.ErrorNext, false, nil
	}
}

func (r *run) message(ctx context.Context, name string, n *flows.Node) (string, bool, error) {
	if err := r.answer(ctx); err != nil {
		return "", false, err
	}
	if _, err := r.play(ctx, n.Prompt, false); err != nil {
		return "", false, err
	}
	rec, ok := r.ch.(Recorder)
	if !ok {
		return "", false, fmt.Errorf("leave a message: %w", ErrUnsupported)
	}
	recording, err := rec.Record(ctx, RecordSpec{
		MaxDuration:    dur(n.MaxDuration, 2*time.Minute),
		SilenceTimeout: dur(n.SilenceTimeout, 5*time.Second),
		Beep:           n.Beep == nil || *n.Beep,
		TerminateOn:    '#',
	})
	// A caller who hangs up while speaking has still left a message.
	if recording.Name != "" && r.e.deps.Messages != nil {
		m := Message{CallID: r.vars["call_id"], Caller: r.vars["caller"], DID: r.vars["did"], Flow: r.doc.Name,
			Node: name, Language: r.vars["language"], Recording: recording, At: r.e.deps.Now()}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		serr := r.e.deps.Messages.SaveMessage(sctx, m)
		cancel()
		if serr != nil {
			return "", false, fmt.Errorf("save message: %w", serr)
		}
		r.setVar("message.recording", recording.Name)
	}
	if err != nil {
		return "", false, fmt.Errorf("record message: %w", err)
	}
	return n.Next, false, nil
}

func (r *run) transfer(ctx context.Context, name string, n *flows.Node) (string, bool, error) {
	t, ok := r.ch.(Transferer)
	if !ok {
		r.obs.Branch(name, "transfer not supported", n.Next)
		return n.Next, false, nil
	}
	to := Expand(n.To, r.vars)
	if err := t.Transfer(ctx, to, dur(n.Timeout, 30*time.Second)); err != nil {
		if ctx.Err() != nil {
			return "", false, err
		}
		r.obs.Branch(name, "transfer failed: "+err.Error(), n.Next)
		return n.Next, false, nil
	}
	r.res.Outcome, r.res.End = OutcomeTransferred, "transferred to "+to
	return "", true, nil
}

var varRef = regexp.MustCompile(`\$\{([a-zA-Z0-9_.]+)\}`)

// Expand replaces ${name} with the variable's value (empty if unset).
func Expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(m string) string {
		return vars[m[2:len(m)-1]]
	})
}

type nopObserver struct{}

func (nopObserver) Node(string, string)           {}
func (nopObserver) Prompt(string, []string)       {}
func (nopObserver) Input(string, string, End)     {}
func (nopObserver) Var(string, string)            {}
func (nopObserver) Branch(string, string, string) {}
