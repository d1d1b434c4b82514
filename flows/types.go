// Package flows defines the IVR flow documents admins edit: a graph of typed
// nodes, with prompts in several languages. It parses and validates them
// (every error with its path in the document) and stores them in PostgreSQL
// with versions: drafts, validation, publishing, roll-back, and the binding
// of hotline DIDs to flows. The ivr package runs them.
//
// # Document format (YAML or JSON)
//
//	name: hotline                      # flow name: [a-z0-9_-]{1,64}
//	description: Food traceability hotline
//	languages: [zh, en]                # every text prompt needs each of these
//	default_language: zh
//	start: greeting                    # first node
//	prompts:                           # reusable prompts, by name
//	  welcome:
//	    text: {zh: "您好，欢迎致电……", en: "Welcome to ..."}   # spoken by TTS
//	  beep:
//	    media: sound:beep              # or a recorded Asterisk sound
//	nodes:
//	  greeting: {type: play, prompt: welcome, next: hours}
//	  ...
//
// Text prompts may use variables as ${name}; the set of variables a node can
// rely on is checked by the validator (see Validate). Built-in variables:
// caller, did, call_id, language, and after a trace lookup trace.* (see
// package trace).
//
// # Node types
//
//	answer        next
//	play          prompt, next, barge_in (default true)
//	menu          prompt, options {key: node}, timeout, retries, invalid_prompt,
//	              no_input_prompt, fail_next (after the retries)
//	collect       prompt, var, min, max, terminator, first_timeout,
//	              inter_timeout, validator (trace_code|digits), retries,
//	              invalid_prompt, no_input_prompt, next, fail_next
//	trace_lookup  code_var, found_next, not_found_next, error_next
//	branch        cases [{var, equals, next}], default
//	set           vars {name: value-with-${vars}}, next
//	schedule      timezone, open [{days: [mon..sun], from: "08:00", to: "20:00"}],
//	              holidays ["2026-10-01"], open_next, closed_next
//	language      prompt, options {key: language}, timeout, default, next
//	message       prompt, max_duration, silence_timeout, beep (default true), next
//	transfer      to (endpoint like PJSIP/1001 or a number), timeout, next (on failure)
//	goto_flow     flow
//	queue         queue (an ACD queue id), next, priority (0..20 or ${var}),
//	              message_next. The caller waits in the queue (hold music,
//	              position announcements, callback on key 1 when the queue
//	              allows it, a message on key 2 when message_next is set)
//	              until an agent is connected; the flow goes on at next when
//	              the queue overflows to the flow, at message_next when the
//	              caller chose to leave a message or the queue overflows to
//	              a message.
//	hangup        prompt (optional goodbye)
//
// Required: answer next; play prompt, next; menu prompt, options; collect
// prompt, var, max, next; trace_lookup code_var, found_next,
// not_found_next, error_next; branch cases, default; set vars, next;
// schedule timezone, open, open_next, closed_next; language prompt,
// options, next; message prompt, next; transfer to, next; goto_flow flow; queue queue, next.
// The other fields of a type are optional; a field of another type is an
// error. Durations are written "5s", "500ms", "2m". In YAML the keys "#"
// and "*" must be quoted, like "1".
package flows

import "time"

// Doc is one flow document.
type Doc struct {
	Name            string            `yaml:"name" json:"name"`
	Description     string            `yaml:"description,omitempty" json:"description,omitempty"`
	Languages       []string          `yaml:"languages" json:"languages"`
	DefaultLanguage string            `yaml:"default_language" json:"default_language"`
	Start           string            `yaml:"start" json:"start"`
	Prompts         map[string]Prompt `yaml:"prompts,omitempty" json:"prompts,omitempty"`
	Nodes           map[string]*Node  `yaml:"nodes" json:"nodes"`
	Vars            map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"` // initial variables
}

// Prompt is something to play: TTS text per language, or a recorded sound.
// A node may name a prompt of the document (Ref) or carry one inline.
type Prompt struct {
	Ref   string            `yaml:"ref,omitempty" json:"ref,omitempty"`
	Text  map[string]string `yaml:"text,omitempty" json:"text,omitempty"`   // language → text with ${vars}
	Media []string          `yaml:"media,omitempty" json:"media,omitempty"` // Asterisk media URIs
}

// UnmarshalYAML lets a node write `prompt: welcome` for `prompt: {ref: welcome}`.
// (Implemented in parse.go.)

// Node is one step of a flow. Type says which fields apply.
type Node struct {
	Type string `yaml:"type" json:"type"`

	Prompt  *Prompt `yaml:"prompt,omitempty" json:"prompt,omitempty"`
	Next    string  `yaml:"next,omitempty" json:"next,omitempty"`
	BargeIn *bool   `yaml:"barge_in,omitempty" json:"barge_in,omitempty"`

	// menu, language
	Options       map[string]string `yaml:"options,omitempty" json:"options,omitempty"`
	Timeout       Duration          `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Retries       int               `yaml:"retries,omitempty" json:"retries,omitempty"`
	InvalidPrompt *Prompt           `yaml:"invalid_prompt,omitempty" json:"invalid_prompt,omitempty"`
	NoInputPrompt *Prompt           `yaml:"no_input_prompt,omitempty" json:"no_input_prompt,omitempty"`
	FailNext      string            `yaml:"fail_next,omitempty" json:"fail_next,omitempty"`
	Default       string            `yaml:"default,omitempty" json:"default,omitempty"`

	// collect
	Var          string   `yaml:"var,omitempty" json:"var,omitempty"`
	Min          int      `yaml:"min,omitempty" json:"min,omitempty"`
	Max          int      `yaml:"max,omitempty" json:"max,omitempty"`
	Terminator   string   `yaml:"terminator,omitempty" json:"terminator,omitempty"`
	FirstTimeout Duration `yaml:"first_timeout,omitempty" json:"first_timeout,omitempty"`
	InterTimeout Duration `yaml:"inter_timeout,omitempty" json:"inter_timeout,omitempty"`
	Validator    string   `yaml:"validator,omitempty" json:"validator,omitempty"`

	// trace_lookup
	CodeVar      string `yaml:"code_var,omitempty" json:"code_var,omitempty"`
	FoundNext    string `yaml:"found_next,omitempty" json:"found_next,omitempty"`
	NotFoundNext string `yaml:"not_found_next,omitempty" json:"not_found_next,omitempty"`
	ErrorNext    string `yaml:"error_next,omitempty" json:"error_next,omitempty"`

	// branch
	Cases []Case `yaml:"cases,omitempty" json:"cases,omitempty"`

	// set
	Vars map[string]string `yaml:"vars,omitempty" json:"vars,omitempty"`

	// schedule
	Timezone   string      `yaml:"timezone,omitempty" json:"timezone,omitempty"`
	Open       []OpenHours `yaml:"open,omitempty" json:"open,omitempty"`
	Holidays   []string    `yaml:"holidays,omitempty" json:"holidays,omitempty"`
	OpenNext   string      `yaml:"open_next,omitempty" json:"open_next,omitempty"`
	ClosedNext string      `yaml:"closed_next,omitempty" json:"closed_next,omitempty"`

	// message
	MaxDuration    Duration `yaml:"max_duration,omitempty" json:"max_duration,omitempty"`
	SilenceTimeout Duration `yaml:"silence_timeout,omitempty" json:"silence_timeout,omitempty"`
	Beep           *bool    `yaml:"beep,omitempty" json:"beep,omitempty"`

	// transfer
	To string `yaml:"to,omitempty" json:"to,omitempty"`

	// goto_flow
	Flow string `yaml:"flow,omitempty" json:"flow,omitempty"`

	// queue
	Queue       string `yaml:"queue,omitempty" json:"queue,omitempty"`
	Priority    string `yaml:"priority,omitempty" json:"priority,omitempty"` // 0..20 or ${var}
	MessageNext string `yaml:"message_next,omitempty" json:"message_next,omitempty"`
}

// Case is one branch condition: variable Var equals Equals.
type Case struct {
	Var    string `yaml:"var" json:"var"`
	Equals string `yaml:"equals" json:"equals"`
	Next   string `yaml:"next" json:"next"`
}

// OpenHours is one opening window on the given weekdays (mon..sun), local time.
type OpenHours struct {
	Days []string `yaml:"days" json:"days"`
	From string   `yaml:"from" json:"from"` // "08:00"
	To   string   `yaml:"to" json:"to"`     // "20:00"; "24:00" allowed
}

// Duration is a time.Duration written as "5s" in documents.
type Duration time.Duration

// Node types.
const (
	TypeAnswer      = "answer"
	TypePlay        = "play"
	TypeMenu        = "menu"
	TypeCollect     = "collect"
	TypeTraceLookup = "trace_lookup"
	TypeBranch      = "branch"
	TypeSet         = "set"
	TypeSchedule    = "schedule"
	TypeLanguage    = "language"
	TypeMessage     = "message"
	TypeTransfer    = "transfer"
	TypeGotoFlow    = "goto_flow"
	TypeHangup      = "hangup"
	TypeQueue       = "queue"
)
