package agentdesk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
)

// ACDConfig is what the API needs to administer the ACD's configuration;
// acd/pgstore.Store satisfies it. Errors wrap acd.ErrNotFound and
// acd.ErrInvalid. The Put methods report whether the item is new.
type ACDConfig interface {
	Queues(ctx context.Context) ([]acd.QueueConfig, error)
	Queue(ctx context.Context, id acd.QueueID) (acd.QueueConfig, error)
	PutQueue(ctx context.Context, q acd.QueueConfig) (created bool, err error)
	DeleteQueue(ctx context.Context, id acd.QueueID) error
	Agents(ctx context.Context) ([]acd.AgentConfig, error)
	Agent(ctx context.Context, id acd.AgentID) (acd.AgentConfig, error)
	PutAgent(ctx context.Context, a acd.AgentConfig) (created bool, err error)
	DeleteAgent(ctx context.Context, id acd.AgentID) error
	PauseReasons(ctx context.Context) ([]acd.PauseReason, error)
	PauseReason(ctx context.Context, code string) (acd.PauseReason, error)
	PutPauseReason(ctx context.Context, p acd.PauseReason) (created bool, err error)
	DeletePauseReason(ctx context.Context, code string) error
}

// AgentControl drives agents' live routing state; the ACD runtime satisfies
// it. Errors wrap acd.ErrNotFound (unknown agent or queue),
// acd.ErrIllegalTransition or acd.ErrReserved (not allowed in the agent's
// current state) and acd.ErrInvalid.
type AgentControl interface {
	Login(ctx context.Context, agent acd.AgentID) error
	Logout(ctx context.Context, agent acd.AgentID) error
	Ready(ctx context.Context, agent acd.AgentID) error
	Pause(ctx context.Context, agent acd.AgentID, reason string) error
	State(ctx context.Context, agent acd.AgentID) (acd.Agent, error)
	QueueStats(ctx context.Context, queue acd.QueueID) (acd.QueueStats, error)
}

// RouteFunc adds routes to the API's mux; auth wraps a handler with the
// bearer-token check. Options.Extra is one.
type RouteFunc = func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc)

// JoinRoutes combines route functions into one, for Options.Extra:
//
//	Extra: agentdesk.JoinRoutes(agentdesk.RecordRoutes(calls, msgs), agentdesk.ACDRoutes(store, ctl, log))
func JoinRoutes(fns ...RouteFunc) RouteFunc {
	return func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
		for _, fn := range fns {
			if fn != nil {
				fn(mux, auth)
			}
		}
	}
}

// AgentState is an agent's live state as the API shows it.
type AgentState struct {
	Agent         acd.AgentID       `json:"agent"`
	State         acd.State         `json:"state"`
	Since         *time.Time        `json:"since,omitempty"`
	Reason        string            `json:"reason,omitempty"`  // pause reason
	Call          acd.CallID        `json:"call_id,omitempty"` // reserved or connected call
	IdleSince     *time.Time        `json:"idle_since,omitempty"`
	WrapUntil     *time.Time        `json:"wrap_until,omitempty"`
	AnsweredToday int               `json:"answered_today"`
	Misses        int               `json:"misses"`
	Rank          int               `json:"rank"`
	Skills        map[acd.Skill]int `json:"skills,omitempty"`
}

// QueueStats is a queue's live load as the API shows it.
type QueueStats struct {
	Queue      acd.QueueID `json:"queue"`
	Waiting    int         `json:"waiting"`
	Staffed    int         `json:"staffed"`
	Available  int         `json:"available"`
	AvgHandleS float64     `json:"avg_handle_s"`
	Handled    int         `json:"handled"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func agentState(a acd.Agent) AgentState {
	return AgentState{Agent: a.ID, State: a.State, Since: timePtr(a.StateSince), Reason: a.Reason, Call: a.Call,
		IdleSince: timePtr(a.IdleSince), WrapUntil: timePtr(a.WrapUntil), AnsweredToday: a.AnsweredToday,
		Misses: a.Misses, Rank: a.Rank, Skills: a.Skills}
}

// ACDRoutes serves the ACD's configuration (when cfg is not nil) and live
// agent control (when ctl is not nil):
//
//	GET    /api/v1/queues
//	GET    /api/v1/queues/{id}
//	PUT    /api/v1/queues/{id}                 body: acd.QueueConfig as JSON; 201 created, 200 replaced
//	DELETE /api/v1/queues/{id}
//	GET    /api/v1/queues/{id}/stats
//	GET    /api/v1/agents
//	GET    /api/v1/agents/{id}
//	PUT    /api/v1/agents/{id}                 body: acd.AgentConfig
//	DELETE /api/v1/agents/{id}
//	POST   /api/v1/agents/{id}/login           the agent's state after the change
//	POST   /api/v1/agents/{id}/logout
//	POST   /api/v1/agents/{id}/ready
//	POST   /api/v1/agents/{id}/pause           body: {"reason": "lunch"}
//	GET    /api/v1/agents/{id}/state
//	GET    /api/v1/pause-reasons
//	GET    /api/v1/pause-reasons/{code}
//	PUT    /api/v1/pause-reasons/{code}        body: acd.PauseReason
//	DELETE /api/v1/pause-reasons/{code}
//
// A body with a field the type does not have is refused with 400 naming
// the field; an id in the body must match the path's (or be left out). A
// configuration that does not validate gives 422 with the reasons, an
// unknown id 404, a state change not allowed now 409.
func ACDRoutes(cfg ACDConfig, ctl AgentControl, log *zap.Logger) RouteFunc {
	if log == nil {
		log = nopLog
	}
	h := &acdAPI{cfg: cfg, ctl: ctl, api: &API{log: log}}
	return func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
		if cfg != nil {
			mux.HandleFunc("GET /api/v1/queues", auth(h.queues))
			mux.HandleFunc("GET /api/v1/queues/{id}", auth(h.queue))
			mux.HandleFunc("PUT /api/v1/queues/{id}", auth(h.putQueue))
			mux.HandleFunc("DELETE /api/v1/queues/{id}", auth(h.deleteQueue))
			mux.HandleFunc("GET /api/v1/agents", auth(h.agents))
			mux.HandleFunc("GET /api/v1/agents/{id}", auth(h.agent))
			mux.HandleFunc("PUT /api/v1/agents/{id}", auth(h.putAgent))
			mux.HandleFunc("DELETE /api/v1/agents/{id}", auth(h.deleteAgent))
			mux.HandleFunc("GET /api/v1/pause-reasons", auth(h.pauseReasons))
			mux.HandleFunc("GET /api/v1/pause-reasons/{code}", auth(h.pauseReason))
			mux.HandleFunc("PUT /api/v1/pause-reasons/{code}", auth(h.putPauseReason))
			mux.HandleFunc("DELETE /api/v1/pause-reasons/{code}", auth(h.deletePauseReason))
		}
		if ctl != nil {
			mux.HandleFunc("POST /api/v1/agents/{id}/login", auth(h.control(ctl.Login)))
			mux.HandleFunc("POST /api/v1/agents/{id}/logout", auth(h.control(ctl.Logout)))
			mux.HandleFunc("POST /api/v1/agents/{id}/ready", auth(h.control(ctl.Ready)))
			mux.HandleFunc("POST /api/v1/agents/{id}/pause", auth(h.pause))
			mux.HandleFunc("GET /api/v1/agents/{id}/state", auth(h.state))
			mux.HandleFunc("GET /api/v1/queues/{id}/stats", auth(h.queueStats))
		}
	}
}

type acdAPI struct {
	cfg ACDConfig
	ctl AgentControl
	api *API
}

// errBadRequest marks a body that cannot be read as the expected type (400).
var errBadRequest = errors.New("bad request")

// fail maps the ACD's errors to statuses; the rest goes to API.Fail.
func (h *acdAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, errBadRequest):
		WriteError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), errBadRequest.Error()+": "))
	case errors.Is(err, acd.ErrIllegalTransition), errors.Is(err, acd.ErrReserved), errors.Is(err, acd.ErrAlreadyReserved):
		WriteError(w, http.StatusConflict, err.Error())
	case errors.Is(err, acd.ErrNotFound):
		WriteError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, acd.ErrInvalid):
		WriteError(w, http.StatusUnprocessableEntity, err.Error())
	default:
		h.api.Fail(w, r, err)
	}
}

const maxConfigBytes = 256 << 10

// decodeStrict reads a JSON body into v, refusing unknown fields, trailing
// data and an empty body with errBadRequest.
func decodeStrict(r *http.Request, v any) error {
	data, err := body(r, maxConfigBytes)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("%w: the body is empty: send a JSON object", errBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %s", errBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: body: data after the JSON object", errBadRequest)
	}
	return nil
}

// pathID fills an id left out of the body from the path, and refuses one
// that differs.
func pathID[T ~string](r *http.Request, key string, id *T, what string) error {
	p := T(r.PathValue(key))
	switch {
	case *id == "":
		*id = p
	case *id != p:
		return ErrInvalidf("%s %q in the body differs from %q in the path", what, *id, p)
	}
	return nil
}

func (h *acdAPI) put(w http.ResponseWriter, r *http.Request, created bool, err error, v any) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	WriteJSON(w, status, v)
}

func (h *acdAPI) queues(w http.ResponseWriter, r *http.Request) {
	list, err := h.cfg.Queues(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"queues": nonNil(list)})
}

func (h *acdAPI) queue(w http.ResponseWriter, r *http.Request) {
	q, err := h.cfg.Queue(r.Context(), acd.QueueID(r.PathValue("id")))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, q)
}

func (h *acdAPI) putQueue(w http.ResponseWriter, r *http.Request) {
	var q acd.QueueConfig
	err := decodeStrict(r, &q)
	if err == nil {
		err = pathID(r, "id", &q.ID, "queue id")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q.Defaults() // what the store keeps
	created, err := h.cfg.PutQueue(r.Context(), q)
	h.put(w, r, created, err, q)
}

func (h *acdAPI) deleteQueue(w http.ResponseWriter, r *http.Request) {
	if err := h.cfg.DeleteQueue(r.Context(), acd.QueueID(r.PathValue("id"))); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *acdAPI) agents(w http.ResponseWriter, r *http.Request) {
	list, err := h.cfg.Agents(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"agents": nonNil(list)})
}

func (h *acdAPI) agent(w http.ResponseWriter, r *http.Request) {
	a, err := h.cfg.Agent(r.Context(), acd.AgentID(r.PathValue("id")))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, a)
}

func (h *acdAPI) putAgent(w http.ResponseWriter, r *http.Request) {
	var a acd.AgentConfig
	err := decodeStrict(r, &a)
	if err == nil {
		err = pathID(r, "id", &a.ID, "agent id")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	created, err := h.cfg.PutAgent(r.Context(), a)
	h.put(w, r, created, err, a)
}

func (h *acdAPI) deleteAgent(w http.ResponseWriter, r *http.Request) {
	if err := h.cfg.DeleteAgent(r.Context(), acd.AgentID(r.PathValue("id"))); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *acdAPI) pauseReasons(w http.ResponseWriter, r *http.Request) {
	list, err := h.cfg.PauseReasons(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"pause_reasons": nonNil(list)})
}

func (h *acdAPI) pauseReason(w http.ResponseWriter, r *http.Request) {
	p, err := h.cfg.PauseReason(r.Context(), r.PathValue("code"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, p)
}

func (h *acdAPI) putPauseReason(w http.ResponseWriter, r *http.Request) {
	var p acd.PauseReason
	err := decodeStrict(r, &p)
	if err == nil {
		err = pathID(r, "code", &p.Code, "pause reason code")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	created, err := h.cfg.PutPauseReason(r.Context(), p)
	h.put(w, r, created, err, p)
}

func (h *acdAPI) deletePauseReason(w http.ResponseWriter, r *http.Request) {
	if err := h.cfg.DeletePauseReason(r.Context(), r.PathValue("code")); err != nil {
		h.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// control runs a state change and answers with the agent's state after it.
func (h *acdAPI) control(change func(context.Context, acd.AgentID) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := change(r.Context(), acd.AgentID(r.PathValue("id"))); err != nil {
			h.fail(w, r, err)
			return
		}
		h.state(w, r)
	}
}

func (h *acdAPI) pause(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Reason string `json:"reason"`
	}
	err := decodeStrict(r, &req)
	if err == nil {
		err = h.checkReason(r.Context(), req.Reason)
	}
	if err == nil {
		err = h.ctl.Pause(r.Context(), acd.AgentID(r.PathValue("id")), req.Reason)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.state(w, r)
}

// checkReason refuses a pause reason that is not configured, and the ones
// the ACD sets by itself.
func (h *acdAPI) checkReason(ctx context.Context, code string) error {
	if code == "" {
		return fmt.Errorf(`%w: body: "reason" is required: a pause reason code (see GET /api/v1/pause-reasons)`, acd.ErrInvalid)
	}
	if code == acd.PauseMissedOffers {
		return fmt.Errorf("%w: pause reason %s is set by the ACD only", acd.ErrInvalid, code)
	}
	if h.cfg == nil {
		return nil // the runtime checks it
	}
	_, err := h.cfg.PauseReason(ctx, code)
	if errors.Is(err, acd.ErrNotFound) {
		return fmt.Errorf("%w: unknown pause reason %q (see GET /api/v1/pause-reasons)", acd.ErrInvalid, code)
	}
	return err
}

func (h *acdAPI) state(w http.ResponseWriter, r *http.Request) {
	a, err := h.ctl.State(r.Context(), acd.AgentID(r.PathValue("id")))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, agentState(a))
}

func (h *acdAPI) queueStats(w http.ResponseWriter, r *http.Request) {
	id := acd.QueueID(r.PathValue("id"))
	if h.cfg != nil { // an unknown queue is 404, not an idle one
		if _, err := h.cfg.Queue(r.Context(), id); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	st, err := h.ctl.QueueStats(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, QueueStats{Queue: id, Waiting: st.Waiting, Staffed: st.Staffed, Available: st.Available,
		AvgHandleS: st.AvgHandle.Seconds(), Handled: st.Handled})
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
