package agentdesk

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/cti"
)

// CallControlRoutes serves the desktop's call-control commands over HTTP, for
// the browser and for integrations. Each goes through the CTI bus like a
// desktop's own command, so the same role and ownership rules apply:
//
//	POST /api/v1/calls/{id}/answer
//	POST /api/v1/calls/{id}/hangup
//	POST /api/v1/calls/{id}/hold
//	POST /api/v1/calls/{id}/resume
//	POST /api/v1/calls/{id}/transfer     {"kind": "agent|queue|duty_manager|external", "to": "...", "mode": "blind|consult"}
//	POST /api/v1/calls/{id}/transfer/complete
//	POST /api/v1/calls/{id}/conference   {"kind": ..., "to": ...} to call a party in; empty to join the consulted one
//
// A consult transfer holds the caller and rings the target; the agent then
// completes it, makes it a conference, or resumes the caller (which ends
// the consultation).
//
// The agent acting is the session's seat; with the bearer token the body's
// "agent" names it. Errors: 403 forbidden, 404 unknown call, 409 not in a
// state for it, 422 invalid, 503 not available (yet).
//
// dutyManager names the duty manager's line as a target (agent:1002,
// number:13900000000; see cti.ParseTarget); nil or empty: none.
func CallControlRoutes(c *cti.Client, dutyManager func() string, log *zap.Logger) RouteFunc {
	h := &callAPI{c: c, duty: dutyManager, log: log}
	return func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
		mux.HandleFunc("POST /api/v1/calls/{id}/answer", auth(h.answer))
		mux.HandleFunc("POST /api/v1/calls/{id}/hangup", auth(h.hangup))
		mux.HandleFunc("POST /api/v1/calls/{id}/hold", auth(h.hold))
		mux.HandleFunc("POST /api/v1/calls/{id}/resume", auth(h.resume))
		mux.HandleFunc("POST /api/v1/calls/{id}/transfer", auth(h.transfer))
		mux.HandleFunc("POST /api/v1/calls/{id}/transfer/complete", auth(h.complete))
		mux.HandleFunc("POST /api/v1/calls/{id}/conference", auth(h.conference))
	}
}

type callAPI struct {
	c    *cti.Client
	duty func() string
	log  *zap.Logger
}

// callBody is the optional JSON body of a call command.
type callBody struct {
	Agent string `json:"agent,omitempty"` // with the bearer token: the agent acting
	Kind  string `json:"kind,omitempty"`  // transfer: agent, queue, duty_manager, external
	To    string `json:"to,omitempty"`
	Mode  string `json:"mode,omitempty"` // transfer: blind (default) or consult
}

func (h *callAPI) identity(r *http.Request) (cti.Identity, callBody, error) {
	var b callBody
	if r.Body != nil {
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil && !errors.Is(err, io.EOF) {
			return cti.Identity{}, b, cti.Errorf(cti.CodeInvalid, "body: %v", err)
		}
	}
	p, _ := PrincipalFrom(r.Context())
	id := cti.Identity{User: p.Username, Role: cti.Role(p.Role), Agent: cti.AgentID(p.Agent)}
	if p.Bearer {
		id.Role = cti.RoleAdmin
		id.Agent = cti.AgentID(b.Agent)
	}
	if id.Agent == "" && b.Agent != "" {
		id.Agent = cti.AgentID(b.Agent)
	}
	return id, b, nil
}

func (h *callAPI) run(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, id cti.Identity, call cti.CallID, b callBody) (any, error)) {
	id, b, err := h.identity(r)
	if err == nil {
		var out any
		out, err = do(r.Context(), id, cti.CallID(r.PathValue("id")), b)
		if err == nil {
			WriteJSON(w, http.StatusOK, out)
			return
		}
	}
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, cti.ErrForbidden):
		status = http.StatusForbidden
	case errors.Is(err, cti.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, cti.ErrIllegalState):
		status = http.StatusConflict
	case errors.Is(err, cti.ErrInvalid):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, cti.ErrUnavailable):
		status = http.StatusServiceUnavailable
	default:
		h.log.Warn("call command", zap.String("path", r.URL.Path), zap.Error(err))
	}
	WriteJSON(w, status, map[string]string{"error": err.Error()})
}

func (h *callAPI) answer(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, id cti.Identity, call cti.CallID, _ callBody) (any, error) {
		return h.c.Answer(ctx, id, cti.AnswerRequest{Agent: id.Agent, CallID: call})
	})
}

func (h *callAPI) hangup(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, id cti.Identity, call cti.CallID, _ callBody) (any, error) {
		return h.c.Hangup(ctx, id, cti.HangupRequest{Agent: id.Agent, CallID: call})
	})
}

func (h *callAPI) hold(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, id cti.Identity, call cti.CallID, _ callBody) (any, error) {
		return h.c.Hold(ctx, id, cti.HoldRequest{Agent: id.Agent, CallID: call})
	})
}

func (h *callAPI) resume(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, id cti.Identity, call cti.CallID, _ callBody) (any, error) {
		return h.c.Resume(ctx, id, cti.ResumeRequest{Agent: id.Agent, CallID: call})
	})
}

func (h *callAPI) conference(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, id cti.Identity, call cti.CallID, b callBody) (any, error) {
		req := cti.ConferenceRequest{Agent: id.Agent, CallID: call}
		if b.Kind != "" {
			to, err := h.target(b)
			if err != nil {
				return nil, err
			}
			req.To = &to
		}
		return h.c.Conference(ctx, id, req)
	})
}

func (h *callAPI) complete(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, id cti.Identity, call cti.CallID, _ callBody) (any, error) {
		return h.c.CompleteTransfer(ctx, id, cti.CompleteTransferRequest{Agent: id.Agent, CallID: call})
	})
}

func (h *callAPI) transfer(w http.ResponseWriter, r *http.Request) {
	h.run(w, r, func(ctx context.Context, id cti.Identity, call cti.CallID, b callBody) (any, error) {
		to, err := h.target(b)
		if err != nil {
			return nil, err
		}
		switch b.Mode {
		case "", "blind":
			return h.c.BlindTransfer(ctx, id, cti.BlindTransferRequest{Agent: id.Agent, CallID: call, To: to})
		case "consult":
			return h.c.ConsultTransfer(ctx, id, cti.ConsultTransferRequest{Agent: id.Agent, CallID: call, To: to})
		}
		return nil, cti.Errorf(cti.CodeInvalid, "transfer mode %q: blind or consult", b.Mode)
	})
}

// target reads a transfer or conference target from the body.
func (h *callAPI) target(b callBody) (cti.Target, error) {
	var to cti.Target
	switch b.Kind {
	case "agent":
		to = cti.ToAgent(cti.AgentID(b.To))
	case "queue":
		to = cti.ToQueue(cti.QueueID(b.To))
	case "external", "number":
		to = cti.ToNumber(b.To)
	case "duty_manager":
		if h.duty == nil || h.duty() == "" {
			return to, cti.Errorf(cti.CodeUnavailable, "no duty manager is configured (acd.duty_manager)")
		}
		return cti.ParseTarget(h.duty())
	default:
		return to, cti.Errorf(cti.CodeInvalid, "transfer kind %q: agent, queue, duty_manager or external", b.Kind)
	}
	return to, nil
}
