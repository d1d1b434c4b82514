package desk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/agentdesk"
)

const (
	// cookieName carries the session token over plain HTTP (loopback,
	// development); over TLS the __Host- prefix makes browsers insist on
	// Secure, Path=/ and no Domain.
	cookieName       = "ccd_session"
	secureCookieName = "__Host-ccd_session"
	csrfHeader       = "X-CSRF-Token"
	// touchEvery spaces out the writes of a session's last use.
	touchEvery = time.Minute
)

var errSessionEnded = errors.New("session ended")

// newToken returns 256 random bits, URL-safe.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenID is the session id stored for a token: its SHA-256.
func tokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func sessionToken(r *http.Request) string {
	for _, name := range []string{secureCookieName, cookieName} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// session returns a live session and its user; a session that has ended (by
// time, or its user disabled) is deleted and errSessionEnded.
func (d *Desk) session(ctx context.Context, id string) (Session, User, error) {
	s, u, err := d.store.Session(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return s, u, errSessionEnded
	}
	if err != nil {
		return s, u, err
	}
	now := d.o.Now()
	if u.Disabled || !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(d.o.IdleTimeout)) {
		if err := d.store.DeleteSession(ctx, id); err != nil {
			d.log.Warn("delete ended session", zap.Error(err))
		}
		return s, u, errSessionEnded
	}
	return s, u, nil
}

func principal(s Session, u User) agentdesk.Principal {
	return agentdesk.Principal{UserID: string(u.ID), Username: u.Username, Role: u.Role, Agent: u.Agent, Session: s.ID}
}

// changes reports whether a method changes state (and so needs the CSRF
// token and is audited).
func changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// Serve admits r (agentdesk.Gate). A request holding the bearer token is
// already authenticated (admin); any other needs a live session, the CSRF
// token when it changes state, and the policy's role or ownership for its
// route. Refusals answer 401 or 403; 403s are audited as denied, and every
// state-changing request that got through is audited with its outcome.
func (d *Desk) Serve(w http.ResponseWriter, r *http.Request, h http.HandlerFunc) {
	p, ok := agentdesk.PrincipalFrom(r.Context())
	if !ok || !p.Bearer {
		token := sessionToken(r)
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ccd"`)
			agentdesk.WriteError(w, http.StatusUnauthorized, "not logged in: POST /api/v1/auth/login, or send the bearer token")
			return
		}
		s, u, err := d.session(r.Context(), tokenID(token))
		if errors.Is(err, errSessionEnded) {
			d.clearCookie(w)
			agentdesk.WriteError(w, http.StatusUnauthorized, "session ended: log in again")
			return
		}
		if err != nil {
			d.fail(w, r, err)
			return
		}
		if now := d.o.Now(); now.Sub(s.LastSeenAt) >= touchEvery {
			if err := d.store.TouchSession(r.Context(), s.ID, now); err != nil {
				d.log.Warn("touch session", zap.Error(err))
			}
		}
		p = principal(s, u)
		r = r.WithContext(agentdesk.WithPrincipal(r.Context(), p))
		if changes(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(s.CSRF)) != 1 {
			d.deny(w, r, p, "missing or wrong "+csrfHeader+" header (see GET /api/v1/me)")
			return
		}
		why, err := d.allowed(r, p)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		if why != "" {
			d.deny(w, r, p, why)
			return
		}
	}
	if !changes(r.Method) {
		h(w, r)
		return
	}
	n := &auditNote{}
	sw := &statusWriter{ResponseWriter: w}
	h(sw, r.WithContext(context.WithValue(r.Context(), noteKey{}, n)))
	d.served(r, p, sw.status, n)
}

// deny answers 403 and audits the refusal.
func (d *Desk) deny(w http.ResponseWriter, r *http.Request, p agentdesk.Principal, why string) {
	d.audit(r, p, AuditEntry{Action: routeName(r), Target: r.URL.Path, Outcome: OutcomeDenied,
		Detail: detail(map[string]any{"reason": why, "role": p.Role})})
	agentdesk.WriteError(w, http.StatusForbidden, "forbidden: "+why)
}

// served audits a state-changing request after its handler: with the
// action, target and detail the handler noted, or the route and path.
func (d *Desk) served(r *http.Request, p agentdesk.Principal, status int, n *auditNote) {
	if status == 0 {
		status = http.StatusOK
	}
	e := AuditEntry{Action: n.action, Target: n.target, Outcome: n.outcome}
	if e.Action == "" {
		e.Action = routeName(r)
	}
	if e.Target == "" {
		e.Target = r.URL.Path
	}
	if e.Outcome == "" {
		switch {
		case status < 400:
			e.Outcome = OutcomeOK
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			e.Outcome = OutcomeDenied
		default:
			e.Outcome = OutcomeFailed
		}
	}
	m := map[string]any{"status": status}
	for k, v := range n.detail {
		m[k] = v
	}
	e.Detail = detail(m)
	d.audit(r, p, e)
}

// routeName names what a request tried: its route, e.g.
// "POST /api/v1/agents/{id}/pause".
func routeName(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	return r.Method + " " + r.URL.Path
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (d *Desk) setCookie(w http.ResponseWriter, r *http.Request, token string) {
	secure := r.TLS != nil
	name := cookieName
	if secure {
		name = secureCookieName
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: token, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(d.o.SessionLifetime / time.Second)})
}

func (d *Desk) clearCookie(w http.ResponseWriter) {
	for _, name := range []string{cookieName, secureCookieName} {
		http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: name == secureCookieName,
			SameSite: http.SameSiteStrictMode, MaxAge: -1})
	}
}
