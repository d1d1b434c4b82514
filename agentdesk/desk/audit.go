package desk

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/agentdesk"
)

// auditNote lets a handler name what it did, for the one audit row the gate
// writes after it.
type auditNote struct {
	action  string
	target  string
	detail  map[string]any
	outcome Outcome
}

type noteKey struct{}

// note returns the request's audit note (a throwaway one outside the gate).
func note(r *http.Request) *auditNote {
	if n, ok := r.Context().Value(noteKey{}).(*auditNote); ok {
		return n
	}
	return &auditNote{}
}

func detail(m map[string]any) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

// audit writes e as done by p from r's address. A failure to write is
// logged: the act has happened already.
func (d *Desk) audit(r *http.Request, p agentdesk.Principal, e AuditEntry) {
	if e.At.IsZero() {
		e.At = d.o.Now()
	}
	e.UserID, e.IP = UserID(p.UserID), d.o.ClientIP(r)
	if e.Username == "" {
		e.Username = p.Username
	}
	if p.Bearer {
		var m map[string]any
		_ = json.Unmarshal(e.Detail, &m)
		if m == nil {
			m = map[string]any{}
		}
		m["via"] = "token"
		e.Detail = detail(m)
	}
	e.Username, e.Target = clean(e.Username, 64), clean(e.Target, 256)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Second)
	defer cancel()
	if err := d.store.Audit(ctx, e); err != nil {
		d.log.Error("audit log write failed", zap.String("action", e.Action), zap.String("username", e.Username),
			zap.String("outcome", string(e.Outcome)), zap.Error(err))
	}
}

// clean makes text from a request safe to keep: no control characters (NUL
// is refused by PostgreSQL), at most max runes.
func clean(s string, max int) string {
	out := make([]rune, 0, min(len(s), max))
	for _, r := range s {
		if len(out) == max {
			break
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			r = '?'
		}
		out = append(out, r)
	}
	return string(out)
}

// auditEntries serves GET /api/v1/audit?user=&action=&target=&outcome=&since=24h&from=&to=&before_id=&limit=100.
// action and target match exactly, or as a prefix when they end in *.
func (d *Desk) auditEntries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	aq := AuditQuery{Username: q.Get("user"), Action: q.Get("action"), Target: q.Get("target"),
		Outcome: Outcome(q.Get("outcome")), Limit: 100}
	switch aq.Outcome {
	case "", OutcomeOK, OutcomeDenied, OutcomeFailed:
	default:
		d.fail(w, r, invalidf("outcome=%q must be ok, denied or failed", aq.Outcome))
		return
	}
	aq.From = d.o.Now().Add(-24 * time.Hour)
	if s := q.Get("since"); s != "" {
		dur, err := time.ParseDuration(s)
		if err != nil || dur <= 0 {
			d.fail(w, r, invalidf("since=%q is not a duration like 24h", s))
			return
		}
		aq.From = d.o.Now().Add(-dur)
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &aq.From}, {"to", &aq.To}} {
		if s := q.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				d.fail(w, r, invalidf("%s=%q is not an RFC 3339 time", f.name, s))
				return
			}
			*f.dst = t
		}
	}
	if s := q.Get("before_id"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			d.fail(w, r, invalidf("before_id=%q is not a positive number", s))
			return
		}
		aq.BeforeID = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 1000 {
			d.fail(w, r, invalidf("limit=%q must be 1..1000", s))
			return
		}
		aq.Limit = n
	}
	for _, s := range []string{aq.Username, aq.Action, aq.Target} {
		if strings.ContainsRune(s, 0) {
			d.fail(w, r, invalidf("filters must not contain NUL"))
			return
		}
	}
	list, err := d.store.AuditEntries(r.Context(), aq)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if list == nil {
		list = []AuditEntry{}
	}
	agentdesk.WriteJSON(w, http.StatusOK, map[string]any{"entries": list})
}
