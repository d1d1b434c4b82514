package desk

import (
	"context"
	"encoding/json"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/agentdesk"
)

// UserID identifies a user (a UUID).
type UserID string

// CustomerID identifies a customer profile (a UUID).
type CustomerID string

// User is a person who logs in on the desktop.
type User struct {
	ID           UserID         `json:"id"`
	Username     string         `json:"username"`
	DisplayName  string         `json:"display_name"`
	Role         agentdesk.Role `json:"role"`
	Agent        acd.AgentID    `json:"agent_id,omitempty"` // the seat they take calls as
	Disabled     bool           `json:"disabled"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
	PasswordHash string         `json:"-"`
}

// Session is a desktop login. ID is the hex SHA-256 of the token in the
// cookie; the token itself is never stored.
type Session struct {
	ID         string
	User       UserID
	CSRF       string
	CreatedAt  time.Time
	ExpiresAt  time.Time // absolute end
	LastSeenAt time.Time // idle end is LastSeenAt + the idle limit
	IP         string
	UserAgent  string
}

// Outcome of an audited act.
type Outcome string

// Outcomes.
const (
	OutcomeOK     Outcome = "ok"
	OutcomeDenied Outcome = "denied" // not allowed (role, ownership, CSRF, throttled, disabled)
	OutcomeFailed Outcome = "failed" // allowed but did not succeed (wrong password, invalid input)
)

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID       int64           `json:"id"`
	At       time.Time       `json:"at"`
	UserID   UserID          `json:"user_id,omitempty"`
	Username string          `json:"username"`
	Action   string          `json:"action"`
	Target   string          `json:"target,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
	IP       string          `json:"ip,omitempty"`
	Outcome  Outcome         `json:"outcome"`
}

// AuditQuery selects audit entries, newest first. Empty fields do not filter.
type AuditQuery struct {
	From, To time.Time
	Username string
	Action   string // exact, or a prefix ending in *
	Target   string // exact, or a prefix ending in *
	Outcome  Outcome
	BeforeID int64 // paging: entries older than this id
	Limit    int
}

// FailedLoginQuery counts recent failed logins for throttling: by Username
// (failures after that user's last successful login) or by IP.
type FailedLoginQuery struct {
	Username string
	IP       string
	Since    time.Time
	Limit    int
}

// Level is a customer's level.
type Level string

// Levels, from least to most important.
const (
	LevelPotential  Level = "potential"
	LevelIndividual Level = "individual"
	LevelCompany    Level = "company"
	LevelVIP        Level = "vip"
)

// Valid reports whether l is one of the levels.
func (l Level) Valid() bool {
	switch l {
	case LevelPotential, LevelIndividual, LevelCompany, LevelVIP:
		return true
	}
	return false
}

// LevelPriority is the ACD priority a caller of level l queues with: VIP
// customers are served first (vip 10, company 5, individual 2, potential
// and unknown 0).
func LevelPriority(l Level) int {
	switch l {
	case LevelVIP:
		return 10
	case LevelCompany:
		return 5
	case LevelIndividual:
		return 2
	}
	return 0
}

// Contact is a person at a customer company (or a company a person belongs to).
type Contact struct {
	Name    string `json:"name"`
	Phone   string `json:"phone,omitempty"`
	Email   string `json:"email,omitempty"`
	Role    string `json:"role,omitempty"`
	Company string `json:"company,omitempty"`
}

// Customer is a customer profile.
type Customer struct {
	ID        CustomerID `json:"id"`
	Name      string     `json:"name"`
	Level     Level      `json:"level"`
	Company   string     `json:"company"`
	Phones    []string   `json:"phones"`
	Contacts  []Contact  `json:"contacts"`
	Notes     string     `json:"notes"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Wrapup is the disposition an agent gives a call they handled.
type Wrapup struct {
	Call        acd.CallID  `json:"call_id"`
	Agent       acd.AgentID `json:"agent_id"`
	Disposition string      `json:"disposition"`
	Notes       string      `json:"notes"`
	At          time.Time   `json:"at"`
}

// Interaction is a past call as the desktop shows it: in the screen pop and
// in an agent's history.
type Interaction struct {
	Call        acd.CallID  `json:"call_id"`
	At          time.Time   `json:"at"`
	Caller      string      `json:"caller"`
	DID         string      `json:"did"`
	Outcome     string      `json:"outcome"`
	Agent       acd.AgentID `json:"agent_id,omitempty"`
	AgentName   string      `json:"agent_name,omitempty"`
	Disposition string      `json:"disposition,omitempty"`
	Notes       string      `json:"notes,omitempty"`
}

// ScreenPop is what appears on the agent's screen as a call is offered.
type ScreenPop struct {
	Caller string `json:"caller"`
	DID    string `json:"did"`
	// Customer is the profile found by the caller's number; nil for a new
	// caller, whose details the agent types in (NewCaller).
	Customer     *Customer `json:"customer,omitempty"`
	NewCaller    bool      `json:"new_caller"`
	OtherMatches int       `json:"other_matches,omitempty"` // more profiles share the number
	Priority     int       `json:"priority"`                // LevelPriority of the customer
	// IVR is what the flow collected: menu path, language, trace code and
	// lookup result, as the flow's variables.
	IVR     map[string]string `json:"ivr,omitempty"`
	Queue   string            `json:"queue,omitempty"`
	WaitedS float64           `json:"waited_s"`
	History []Interaction     `json:"history"` // the last calls, newest first
}

// Users keeps the people who log in.
type Users interface {
	User(ctx context.Context, username string) (User, error) // ErrNotFound
	Users(ctx context.Context) ([]User, error)
	// PutUser creates or replaces u by username. An empty passwordHash keeps
	// the current one (and is ErrInvalid for a new user). A new password or
	// disabling ends the user's sessions. Leaving no enabled admin is
	// ErrConflict.
	PutUser(ctx context.Context, u User, passwordHash string) (stored User, created bool, err error)
	DeleteUser(ctx context.Context, username string) (User, error)
	SetPasswordHash(ctx context.Context, id UserID, hash string) error
}

// Sessions keeps desktop sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// Session returns a session and its user (ErrNotFound).
	Session(ctx context.Context, id string) (Session, User, error)
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// PruneSessions deletes the sessions ended at now (of one user, or all
	// when user is "").
	PruneSessions(ctx context.Context, user UserID, now time.Time, idle time.Duration) (int64, error)
}

// AuditLog keeps the audit trail.
type AuditLog interface {
	Audit(ctx context.Context, e AuditEntry) error
	AuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// FailedLogins returns the times of matching failed logins, newest first.
	FailedLogins(ctx context.Context, q FailedLoginQuery) ([]time.Time, error)
}

// Customers keeps customer profiles.
type Customers interface {
	// CustomersByPhone finds the profiles with a normalised number, most
	// recently updated first.
	CustomersByPhone(ctx context.Context, phone string, limit int) ([]Customer, error)
	Customer(ctx context.Context, id CustomerID) (Customer, error)
	CreateCustomer(ctx context.Context, c Customer) (Customer, error)
	UpdateCustomer(ctx context.Context, c Customer) (Customer, error)
}

// Calls keeps wrap-ups and reads call history.
type Calls interface {
	// PutWrapup stores w, replacing the agent's earlier one for the call;
	// an unknown call is ErrNotFound.
	PutWrapup(ctx context.Context, w Wrapup) (created bool, err error)
	// Interactions are the finished calls from any of numbers, newest first.
	Interactions(ctx context.Context, numbers []string, limit int) ([]Interaction, error)
	// AgentHistory are the calls agent talked on or wrapped up since from,
	// newest first.
	AgentHistory(ctx context.Context, agent acd.AgentID, from time.Time, limit int) ([]Interaction, error)
}

// Store is everything the desk keeps; deskpg.Store is the PostgreSQL one.
type Store interface {
	Users
	Sessions
	AuditLog
	Customers
	Calls
}

// CallOwnership tells whether an agent handled a call (was connected with
// it, now or before): an agent reads and wraps up only their own calls. The
// ACD runtime or the agent state log (deskpg.Store.HandledBy) answers it.
type CallOwnership interface {
	HandledBy(ctx context.Context, call acd.CallID, agent acd.AgentID) (bool, error)
}
