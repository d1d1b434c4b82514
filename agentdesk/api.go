// Package agentdesk is the HTTP face of the contact center: the JSON API for
// admins (flows, DID bindings, ACD queues, agents and pause reasons),
// supervisors and agents (call records, messages, trace lookups, agent
// state), and the browser desktop (package agentdesk/desk). Every /api call
// needs the bearer token or, with a Gate, a desktop session; errors map to
// HTTP statuses only here.
package agentdesk

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Errors the backends wrap so the API can answer with the right status.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
	ErrConflict = errors.New("conflict")
)

// Problem is one error in a submitted document, with its path.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ProblemError is an error that lists the problems of a document.
type ProblemError interface {
	error
	Problems() []Problem
}

// FlowSummary describes a flow and its versions.
type FlowSummary struct {
	Name      string `json:"name"`
	Published *int   `json:"published_version,omitempty"`
	Latest    int    `json:"latest_version"`
}

// FlowVersion is one stored version of a flow.
type FlowVersion struct {
	Name        string     `json:"name"`
	Version     int        `json:"version"`
	State       string     `json:"state"`
	Source      string     `json:"source,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   string     `json:"created_by"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	PublishedBy string     `json:"published_by,omitempty"`
}

// Binding ties a hotline DID to a flow.
type Binding struct {
	DID       string    `json:"did"`
	Flow      string    `json:"flow"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// Simulation is a flow run with scripted keys.
type Simulation struct {
	Transcript string `json:"transcript"`
	Outcome    string `json:"outcome"`
	End        string `json:"end"`
	Inputs     string `json:"inputs"`
	LastNode   string `json:"last_node"`
}

// SimulateRequest asks for a simulation of a flow version (0: the published one).
type SimulateRequest struct {
	Version int       `json:"version"`
	Digits  string    `json:"digits"`
	Caller  string    `json:"caller"`
	DID     string    `json:"did"`
	At      time.Time `json:"at"`
}

// Flows is what the API needs to administer flows.
type Flows interface {
	List(ctx context.Context) ([]FlowSummary, error)
	Versions(ctx context.Context, name string) ([]FlowVersion, error)
	// Version returns a version; 0 is the published one.
	Version(ctx context.Context, name string, version int) (FlowVersion, error)
	Validate(ctx context.Context, source []byte) error
	SaveDraft(ctx context.Context, name string, source []byte, author string) (FlowVersion, error)
	Publish(ctx context.Context, name string, version int, author string) error
	Rollback(ctx context.Context, name, author string) (FlowVersion, error)
	Bindings(ctx context.Context) ([]Binding, error)
	Bind(ctx context.Context, did, flow, author string) error
	Unbind(ctx context.Context, did, author string) error
	Simulate(ctx context.Context, name string, req SimulateRequest) (Simulation, error)
}

// Options wire the API.
type Options struct {
	Token string
	Flows Flows
	Extra func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc)
	// Gate, when set, admits desktop sessions besides the bearer token and
	// audits state-changing requests (desk.Desk is one).
	Gate   Gate
	Logger *zap.Logger
}

// API serves /api/v1.
type API struct {
	o   Options
	log *zap.Logger
}

// New returns the API.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &API{o: o, log: o.Logger}
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	auth := a.auth
	if a.o.Flows != nil {
		mux.HandleFunc("GET /api/v1/flows", auth(a.listFlows))
		mux.HandleFunc("POST /api/v1/flows/validate", auth(a.validateFlow))
		mux.HandleFunc("GET /api/v1/flows/{name}", auth(a.flowVersions))
		mux.HandleFunc("POST /api/v1/flows/{name}/drafts", auth(a.saveDraft))
		mux.HandleFunc("GET /api/v1/flows/{name}/versions/{version}", auth(a.flowVersion))
		mux.HandleFunc("POST /api/v1/flows/{name}/versions/{version}/publish", auth(a.publish))
		mux.HandleFunc("POST /api/v1/flows/{name}/rollback", auth(a.rollback))
		mux.HandleFunc("POST /api/v1/flows/{name}/simulate", auth(a.simulate))
		mux.HandleFunc("GET /api/v1/bindings", auth(a.bindings))
		mux.HandleFunc("PUT /api/v1/bindings/{did}", auth(a.bind))
		mux.HandleFunc("DELETE /api/v1/bindings/{did}", auth(a.unbind))
	}
	if a.o.Extra != nil {
		a.o.Extra(mux, auth)
	}
}

// Author is who made the request (for the audit of flow changes): the
// person logged in, or with the bearer token the X-Author header ("admin"
// when absent).
func Author(ctx context.Context) string {
	if p, ok := PrincipalFrom(ctx); ok && p.Username != "" {
		return p.Username
	}
	return "admin"
}

// auth admits a request with the bearer token (it acts as admin; X-Author
// names the person) or, without an Authorization header, hands it to the
// Gate for a desktop session. With a Gate, bearer requests go through it too,
// to be audited.
func (a *API) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" && a.o.Gate != nil {
			a.o.Gate.Serve(w, r, h)
			return
		}
		if a.o.Token == "" {
			WriteError(w, http.StatusUnauthorized, "the API is closed: set api.token in ccd's configuration")
			return
		}
		got, ok := strings.CutPrefix(header, "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.o.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ccd"`)
			WriteError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		author := strings.TrimSpace(r.Header.Get("X-Author"))
		if author == "" {
			author = "admin"
		}
		r = r.WithContext(WithPrincipal(r.Context(), Principal{Username: author, Role: RoleAdmin, Bearer: true}))
		if a.o.Gate != nil {
			a.o.Gate.Serve(w, r, h)
			return
		}
		h(w, r)
	}
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError answers with {"error": msg}.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// Fail maps an error to its status.
func (a *API) Fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe ProblemError
	switch {
	case errors.As(err, &pe):
		WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "the document has errors", "problems": pe.Problems()})
	case errors.Is(err, ErrInvalid):
		WriteError(w, http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, ErrNotFound):
		WriteError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrConflict):
		WriteError(w, http.StatusConflict, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		WriteError(w, http.StatusGatewayTimeout, err.Error())
	default:
		a.log.Error("API request failed", zap.String("path", r.URL.Path), zap.Error(err))
		WriteError(w, http.StatusInternalServerError, err.Error())
	}
}

func body(r *http.Request, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: body larger than %d bytes", ErrInvalid, max)
	}
	return data, nil
}

func pathVersion(r *http.Request) (int, error) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%w: version %q is not a positive number", ErrInvalid, r.PathValue("version"))
	}
	return v, nil
}

func (a *API) listFlows(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Flows.List(r.Context())
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"flows": list})
}

func (a *API) flowVersions(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Flows.Versions(r.Context(), r.PathValue("name"))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "versions": list})
}

func (a *API) flowVersion(w http.ResponseWriter, r *http.Request) {
	// "published" asks for the published version (0 to the backend).
	v, err := 0, error(nil)
	if r.PathValue("version") != "published" {
		v, err = pathVersion(r)
	}
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	fv, err := a.o.Flows.Version(r.Context(), r.PathValue("name"), v)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, fv)
}

const maxFlowBytes = 1 << 20

func (a *API) validateFlow(w http.ResponseWriter, r *http.Request) {
	src, err := body(r, maxFlowBytes)
	if err == nil {
		err = a.o.Flows.Validate(r.Context(), src)
	}
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"valid": true})
}

func (a *API) saveDraft(w http.ResponseWriter, r *http.Request) {
	src, err := body(r, maxFlowBytes)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	fv, err := a.o.Flows.SaveDraft(r.Context(), r.PathValue("name"), src, Author(r.Context()))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusCreated, fv)
}

func (a *API) publish(w http.ResponseWriter, r *http.Request) {
	v, err := pathVersion(r)
	if err == nil {
		err = a.o.Flows.Publish(r.Context(), r.PathValue("name"), v, Author(r.Context()))
	}
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"name": r.PathValue("name"), "published_version": v})
}

func (a *API) rollback(w http.ResponseWriter, r *http.Request) {
	fv, err := a.o.Flows.Rollback(r.Context(), r.PathValue("name"), Author(r.Context()))
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, fv)
}

func (a *API) simulate(w http.ResponseWriter, r *http.Request) {
	var req SimulateRequest
	data, err := body(r, 64<<10)
	if err == nil && len(data) > 0 {
		if jerr := json.Unmarshal(data, &req); jerr != nil {
			err = fmt.Errorf("%w: body: %v", ErrInvalid, jerr)
		}
	}
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	sim, err := a.o.Flows.Simulate(ctx, r.PathValue("name"), req)
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, sim)
}

func (a *API) bindings(w http.ResponseWriter, r *http.Request) {
	list, err := a.o.Flows.Bindings(r.Context())
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"bindings": list})
}

func (a *API) bind(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Flow string `json:"flow"`
	}
	data, err := body(r, 4<<10)
	if err == nil {
		if jerr := json.Unmarshal(data, &req); jerr != nil || req.Flow == "" {
			err = fmt.Errorf(`%w: body must be {"flow": "NAME"}`, ErrInvalid)
		}
	}
	if err == nil {
		err = a.o.Flows.Bind(r.Context(), r.PathValue("did"), req.Flow, Author(r.Context()))
	}
	if err != nil {
		a.Fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"did": r.PathValue("did"), "flow": req.Flow})
}

func (a *API) unbind(w http.ResponseWriter, r *http.Request) {
	if err := a.o.Flows.Unbind(r.Context(), r.PathValue("did"), Author(r.Context())); err != nil {
		a.Fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
