package acd

import (
	"fmt"
	"regexp"
	"time"
)

// QueueConfig is a queue as admins configure it (kept in PostgreSQL).
type QueueConfig struct {
	ID       QueueID  `json:"id" yaml:"id"`
	Name     string   `json:"name" yaml:"name"`
	Strategy Strategy `json:"strategy" yaml:"strategy"` // default longest_idle
	// Skills are required of the agents who serve the queue.
	Skills []Requirement `json:"skills" yaml:"skills"`
	// Expansion relaxes Skills after the call waited a while.
	Expansion []ExpansionStep `json:"expansion,omitempty" yaml:"expansion,omitempty"`
	// Ordering: priority then waiting time (PriorityStep 0), or a score of
	// priority plus waited time: one level is worth PriorityStep of waiting.
	PriorityStep Seconds `json:"priority_step_s" yaml:"priority_step_s"`
	// MaxWait: after this the call overflows to Overflow (0: never).
	MaxWait Seconds `json:"max_wait_s" yaml:"max_wait_s"`
	// Overflow is where calls go after MaxWait, or at once when no agent
	// who could serve the queue is logged in: "queue:<id>", "message",
	// "flow:<name>", or "" (the flow node's next).
	Overflow string `json:"overflow" yaml:"overflow"`
	// OverflowWhenEmpty sends calls to Overflow at once when no agent is
	// logged in for the queue.
	OverflowWhenEmpty bool    `json:"overflow_when_empty" yaml:"overflow_when_empty"`
	OfferTimeout      Seconds `json:"offer_timeout_s" yaml:"offer_timeout_s"` // default 15
	MaxMisses         int     `json:"max_misses" yaml:"max_misses"`           // 0: never auto-pause
	RetryDelay        Seconds `json:"retry_delay_s" yaml:"retry_delay_s"`     // default 10
	WrapUp            Seconds `json:"wrap_up_s" yaml:"wrap_up_s"`             // default 10
	// AnnounceEvery: position and expected wait every N seconds (0: never).
	AnnounceEvery Seconds `json:"announce_every_s" yaml:"announce_every_s"`
	HoldMusic     string  `json:"hold_music" yaml:"hold_music"` // Asterisk MOH class, default "default"
	// CallbackAllowed lets a waiting caller press 1 to be called back.
	CallbackAllowed bool `json:"callback_allowed" yaml:"callback_allowed"`
	// LastAgentDays: the agent who served this caller within this many days
	// gets the call first, waiting up to LastAgentWait for them (0: off).
	LastAgentDays int     `json:"last_agent_days" yaml:"last_agent_days"`
	LastAgentWait Seconds `json:"last_agent_wait_s" yaml:"last_agent_wait_s"`
}

// ExpansionStep replaces a queue's required skills once a call has waited After.
type ExpansionStep struct {
	After  Seconds       `json:"after_s" yaml:"after_s"`
	Skills []Requirement `json:"skills" yaml:"skills"`
}

// Seconds is a duration written as a number of seconds (fractions allowed).
type Seconds float64

// D converts to a time.Duration.
func (s Seconds) D() time.Duration { return time.Duration(float64(s) * float64(time.Second)) }

// AgentConfig is an agent as admins configure them.
type AgentConfig struct {
	ID     AgentID       `json:"id" yaml:"id"`
	Name   string        `json:"name" yaml:"name"`
	Team   string        `json:"team" yaml:"team"`
	Device string        `json:"device" yaml:"device"` // dial string, e.g. PJSIP/1001
	Skills map[Skill]int `json:"skills" yaml:"skills"` // levels 1..5
	Rank   int           `json:"rank" yaml:"rank"`     // order for linear and round robin
}

// PauseReason is a reason code agents pick when they pause.
type PauseReason struct {
	Code  string `json:"code" yaml:"code"`
	Label string `json:"label" yaml:"label"`
	// Productive reasons (training, back office) count as working time on reports.
	Productive bool `json:"productive" yaml:"productive"`
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Defaults fills unset fields with the product defaults.
func (q *QueueConfig) Defaults() {
	if q.Strategy == "" {
		q.Strategy = LongestIdle
	}
	if q.OfferTimeout == 0 {
		q.OfferTimeout = 15
	}
	if q.RetryDelay == 0 {
		q.RetryDelay = 10
	}
	if q.HoldMusic == "" {
		q.HoldMusic = "default"
	}
}

// Validate checks a queue configuration; every problem is named.
func (q *QueueConfig) Validate() error {
	var errs []string
	add := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	if !idRE.MatchString(string(q.ID)) {
		add("id %q: use 1-64 of a-z 0-9 _ . - starting with a letter or digit", q.ID)
	}
	if !q.Strategy.Valid() {
		add("strategy %q: one of longest_idle, best_skill, fewest_answered, round_robin, linear", q.Strategy)
	}
	for i, r := range q.Skills {
		if err := validSkill(r.Skill, r.MinLevel); err != nil {
			add("skills[%d]: %v", i, err)
		}
	}
	var last Seconds
	for i, st := range q.Expansion {
		if st.After <= 0 || st.After < last {
			add("expansion[%d].after_s %v: must be positive and not before the previous step", i, st.After)
		}
		last = st.After
		for j, r := range st.Skills {
			if err := validSkill(r.Skill, r.MinLevel); err != nil {
				add("expansion[%d].skills[%d]: %v", i, j, err)
			}
		}
	}
	for name, v := range map[string]Seconds{"priority_step_s": q.PriorityStep, "max_wait_s": q.MaxWait,
		"offer_timeout_s": q.OfferTimeout, "retry_delay_s": q.RetryDelay, "wrap_up_s": q.WrapUp,
		"announce_every_s": q.AnnounceEvery, "last_agent_wait_s": q.LastAgentWait} {
		if v < 0 || v > 86400 {
			add("%s %v: out of 0..86400", name, v)
		}
	}
	if q.OfferTimeout < 1 {
		add("offer_timeout_s %v: at least 1", q.OfferTimeout)
	}
	if q.AnnounceEvery != 0 && q.AnnounceEvery < 10 {
		add("announce_every_s %v: 0 (off) or at least 10", q.AnnounceEvery)
	}
	if q.MaxMisses < 0 || q.MaxMisses > 100 {
		add("max_misses %d: out of 0..100", q.MaxMisses)
	}
	if q.LastAgentDays < 0 || q.LastAgentDays > 365 {
		add("last_agent_days %d: out of 0..365", q.LastAgentDays)
	}
	if _, _, err := ParseOverflow(q.Overflow); err != nil {
		add("overflow: %v", err)
	} else if kind, target, _ := ParseOverflow(q.Overflow); kind == OverflowQueue && QueueID(target) == q.ID {
		add("overflow: a queue cannot overflow to itself")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: queue %s: %s", ErrInvalid, q.ID, joinErrs(errs))
	}
	return nil
}

// Routing returns the part of the configuration the live state needs.
func (q *QueueConfig) Routing() Queue {
	return Queue{ID: q.ID, Strategy: q.Strategy, PriorityStep: q.PriorityStep.D(),
		MaxMisses: q.MaxMisses, RetryDelay: q.RetryDelay.D(), WrapUp: q.WrapUp.D()}
}

// Stages converts the expansion steps for a Call.
func (q *QueueConfig) Stages() []Stage {
	out := make([]Stage, 0, len(q.Expansion))
	for _, st := range q.Expansion {
		out = append(out, Stage{After: st.After.D(), Skills: st.Skills})
	}
	return out
}

// Overflow kinds.
const (
	OverflowNone    = ""      // continue the flow at the queue node's next
	OverflowQueue   = "queue" // move to another queue, keeping the waiting time
	OverflowMessage = "message"
	OverflowFlow    = "flow"
)

// ParseOverflow splits an overflow target.
func ParseOverflow(s string) (kind, target string, err error) {
	switch {
	case s == "" || s == "next":
		return OverflowNone, "", nil
	case s == "message":
		return OverflowMessage, "", nil
	case len(s) > 6 && s[:6] == "queue:" && idRE.MatchString(s[6:]):
		return OverflowQueue, s[6:], nil
	case len(s) > 5 && s[:5] == "flow:" && s[5:] != "":
		return OverflowFlow, s[5:], nil
	}
	return "", "", fmt.Errorf("%q: use queue:<id>, message, flow:<name> or empty", s)
}

// Validate checks an agent configuration.
func (a *AgentConfig) Validate() error {
	var errs []string
	if a.ID == "" || !regexp.MustCompile(`^[A-Za-z0-9_]{1,32}$`).MatchString(string(a.ID)) {
		errs = append(errs, fmt.Sprintf("id %q: 1-32 letters, digits or _", a.ID))
	}
	if a.Device != "" && !regexp.MustCompile(`^[A-Za-z]+/\S+$`).MatchString(a.Device) {
		errs = append(errs, fmt.Sprintf("device %q: a dial string such as PJSIP/1001", a.Device))
	}
	for s, lv := range a.Skills {
		if err := validSkill(s, lv); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: agent %s: %s", ErrInvalid, a.ID, joinErrs(errs))
	}
	return nil
}

// Validate checks a pause reason.
func (p *PauseReason) Validate() error {
	if !idRE.MatchString(p.Code) {
		return fmt.Errorf("%w: pause reason code %q: 1-64 of a-z 0-9 _ . -", ErrInvalid, p.Code)
	}
	if p.Label == "" {
		return fmt.Errorf("%w: pause reason %s: label is required", ErrInvalid, p.Code)
	}
	return nil
}

func joinErrs(errs []string) string {
	out := ""
	for i, e := range errs {
		if i > 0 {
			out += "; "
		}
		out += e
	}
	return out
}
