package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/flows"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/sim"
)

// flowAdmin gives the API the flow store and the simulator.
type flowAdmin struct {
	store *flows.Store
	deps  ivr.Deps // for simulations: the real trace lookup and validators
}

var _ agentdesk.Flows = (*flowAdmin)(nil)

// problems makes a flows.ValidationError readable by the API.
type problems struct{ *flows.ValidationError }

func (p problems) Problems() []agentdesk.Problem {
	out := make([]agentdesk.Problem, len(p.ValidationError.Problems))
	for i, pr := range p.ValidationError.Problems {
		path := pr.Path
		if pr.Line > 0 {
			path = fmt.Sprintf("%s (line %d)", path, pr.Line)
		}
		out[i] = agentdesk.Problem{Path: path, Message: pr.Message}
	}
	return out
}

func (p problems) Unwrap() error { return p.ValidationError }

// apiErr maps the store's errors to the API's.
func apiErr(err error) error {
	var ve *flows.ValidationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ve):
		return problems{ve}
	case errors.Is(err, flows.ErrNotFound), errors.Is(err, flows.ErrNoBinding):
		return fmt.Errorf("%w: %v", agentdesk.ErrNotFound, err)
	case errors.Is(err, flows.ErrNotPublished):
		return fmt.Errorf("%w: %v", agentdesk.ErrConflict, err)
	case errors.Is(err, flows.ErrInvalid):
		return fmt.Errorf("%w: %v", agentdesk.ErrInvalid, err)
	}
	return err
}

func version(v flows.Version) agentdesk.FlowVersion {
	fv := agentdesk.FlowVersion{Name: v.Name, Version: v.Number, State: string(v.State), Source: v.Source,
		CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy, PublishedBy: v.PublishedBy}
	if !v.PublishedAt.IsZero() {
		t := v.PublishedAt
		fv.PublishedAt = &t
	}
	return fv
}

func (f *flowAdmin) List(ctx context.Context) ([]agentdesk.FlowSummary, error) {
	list, err := f.store.List(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	out := make([]agentdesk.FlowSummary, 0, len(list))
	for _, fl := range list {
		s := agentdesk.FlowSummary{Name: fl.Name, Latest: fl.Latest}
		if fl.Published > 0 {
			p := fl.Published
			s.Published = &p
		}
		out = append(out, s)
	}
	return out, nil
}

func (f *flowAdmin) Versions(ctx context.Context, name string) ([]agentdesk.FlowVersion, error) {
	list, err := f.store.Versions(ctx, name)
	if err != nil {
		return nil, apiErr(err)
	}
	out := make([]agentdesk.FlowVersion, 0, len(list))
	for _, v := range list {
		out = append(out, version(v))
	}
	return out, nil
}

func (f *flowAdmin) Version(ctx context.Context, name string, number int) (agentdesk.FlowVersion, error) {
	var v flows.Version
	var err error
	if number == 0 {
		v, err = f.store.Published(ctx, name)
	} else {
		v, err = f.store.Get(ctx, name, number)
	}
	if err != nil {
		return agentdesk.FlowVersion{}, apiErr(err)
	}
	return version(v), nil
}

func (f *flowAdmin) Validate(ctx context.Context, source []byte) error {
	doc, err := flows.Parse(source)
	if err != nil {
		return apiErr(err)
	}
	_, err = f.store.Check(ctx, doc.Name, source)
	return apiErr(err)
}

func (f *flowAdmin) SaveDraft(ctx context.Context, name string, source []byte, author string) (agentdesk.FlowVersion, error) {
	v, err := f.store.SaveDraft(ctx, name, source, author)
	if err != nil {
		return agentdesk.FlowVersion{}, apiErr(err)
	}
	return version(v), nil
}

func (f *flowAdmin) Publish(ctx context.Context, name string, number int, author string) error {
	return apiErr(f.store.Publish(ctx, name, number, author))
}

func (f *flowAdmin) Rollback(ctx context.Context, name, author string) (agentdesk.FlowVersion, error) {
	v, err := f.store.Rollback(ctx, name, author)
	if err != nil {
		return agentdesk.FlowVersion{}, apiErr(err)
	}
	return version(v), nil
}

func (f *flowAdmin) Bindings(ctx context.Context) ([]agentdesk.Binding, error) {
	list, err := f.store.Bindings(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	out := make([]agentdesk.Binding, 0, len(list))
	for _, b := range list {
		out = append(out, agentdesk.Binding{DID: string(b.DID), Flow: b.Flow, UpdatedAt: b.UpdatedAt, UpdatedBy: b.UpdatedBy})
	}
	return out, nil
}

func (f *flowAdmin) Bind(ctx context.Context, did, flow, author string) error {
	return apiErr(f.store.BindDID(ctx, flows.DID(did), flow, author))
}

func (f *flowAdmin) Unbind(ctx context.Context, did, author string) error {
	return apiErr(f.store.UnbindDID(ctx, flows.DID(did), author))
}

// Simulate runs a version with the same engine and lookups as real calls,
// but a scripted caller and no phone.
func (f *flowAdmin) Simulate(ctx context.Context, name string, req agentdesk.SimulateRequest) (agentdesk.Simulation, error) {
	var v flows.Version
	var err error
	if req.Version == 0 {
		v, err = f.store.Published(ctx, name)
	} else {
		v, err = f.store.Get(ctx, name, req.Version)
	}
	if err != nil {
		return agentdesk.Simulation{}, apiErr(err)
	}
	inputs, err := sim.ParseInputs(req.Digits)
	if err != nil {
		return agentdesk.Simulation{}, fmt.Errorf("%w: digits: %v", agentdesk.ErrInvalid, err)
	}
	at := req.At
	if at.IsZero() {
		at = time.Now()
	}
	deps := f.deps
	deps.Messages = nil // a simulation leaves no message
	deps.Queue = nil    // nor queues anyone: the simulator says an agent answers
	deps.Flows = f.store
	var out bytes.Buffer
	fmt.Fprintf(&out, "flow %s version %d (%s), caller %s, DID %s, at %s\n", v.Name, v.Number, v.State, req.Caller, req.DID, at.Format(time.RFC3339))
	res, err := sim.Run(ctx, v.Doc, sim.Options{Inputs: inputs, Caller: req.Caller, DID: req.DID, Now: at, Deps: deps}, &out)
	s := agentdesk.Simulation{Transcript: out.String(), Outcome: string(res.Outcome), End: res.End, Inputs: res.Digits(), LastNode: res.LastNode}
	if err != nil {
		s.Transcript += "error: " + err.Error() + "\n"
		s.Outcome = string(ivr.OutcomeFailed)
	}
	return s, nil
}
