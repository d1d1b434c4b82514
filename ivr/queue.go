package ivr

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/ccd-platform/ccd/flows"
)

// Queuer puts a caller into an ACD queue and returns when the caller leaves
// it: connected to an agent and done talking, called back later, sent on.
type Queuer interface {
	Queue(ctx context.Context, ch Channel, req QueueRequest) (QueueResult, error)
}

// QueueRequest asks for a place in a queue.
type QueueRequest struct {
	Queue    string
	Priority int
	Language string
	// MessageAllowed: the flow has somewhere to record a message, so the
	// caller may choose to leave one and the queue may overflow to one.
	MessageAllowed bool
	Vars           map[string]string // the flow's variables (IVR context)
}

// QueueOutcome is how a caller left a queue.
type QueueOutcome string

// Ways to leave a queue.
const (
	QueueConnected QueueOutcome = "connected" // talked to an agent; the call is over
	QueueCallback  QueueOutcome = "callback"  // asked to be called back; the caller hangs up
	QueueMessage   QueueOutcome = "message"   // leaves a message (caller's choice or overflow)
	QueueOverflow  QueueOutcome = "overflow"  // the flow goes on at the node's next
	QueueToFlow    QueueOutcome = "flow"      // overflow to another flow (Flow)
)

// QueueResult tells the flow where the caller went.
type QueueResult struct {
	Outcome QueueOutcome
	Flow    string // for QueueToFlow
	Agent   string // for QueueConnected
}

// Outcomes of calls that went through a queue.
const (
	OutcomeAgent    Outcome = "agent"    // the caller talked to an agent
	OutcomeCallback Outcome = "callback" // the caller asked to be called back
)

// ErrNoQueue: the engine has no ACD to queue callers with.
var ErrNoQueue = errors.New("no ACD configured for queue nodes")

func (r *run) queue(ctx context.Context, name string, n *flows.Node) (string, bool, error) {
	if r.e.deps.Queue == nil {
		return "", false, fmt.Errorf("queue %s: %w", n.Queue, ErrNoQueue)
	}
	if err := r.answer(ctx); err != nil {
		return "", false, err
	}
	prio := 0
	if p := Expand(n.Priority, r.vars); p != "" {
		v, err := strconv.Atoi(p)
		switch {
		case err != nil:
			r.obs.Branch(name, fmt.Sprintf("priority %q is not a number; using 0", p), name)
		case v < 0:
			prio = 0
		case v > flows.MaxPriority:
			prio = flows.MaxPriority
		default:
			prio = v
		}
	}
	vars := make(map[string]string, len(r.vars))
	for k, v := range r.vars {
		vars[k] = v
	}
	res, err := r.e.deps.Queue.Queue(ctx, r.ch, QueueRequest{
		Queue: n.Queue, Priority: prio, Language: r.vars["language"],
		MessageAllowed: n.MessageNext != "", Vars: vars,
	})
	if err != nil {
		return "", false, fmt.Errorf("queue %s: %w", n.Queue, err)
	}
	switch res.Outcome {
	case QueueConnected:
		r.res.Outcome, r.res.End = OutcomeAgent, "talked to agent "+res.Agent
		return "", true, nil
	case QueueCallback:
		r.res.Outcome, r.res.End = OutcomeCallback, "callback requested"
		return "", true, nil
	case QueueMessage:
		if n.MessageNext != "" {
			r.obs.Branch(name, "leave a message", n.MessageNext)
			return n.MessageNext, false, nil
		}
		r.obs.Branch(name, "overflow to a message, but the node has no message_next", n.Next)
		return n.Next, false, nil
	case QueueToFlow:
		doc, err := r.loadFlow(ctx, res.Flow)
		if err != nil {
			return "", false, fmt.Errorf("queue %s overflow: %w", n.Queue, err)
		}
		r.obs.Branch(name, "overflow to flow", doc.Name+"/"+doc.Start)
		r.doc = doc
		r.res.Flow = doc.Name
		return doc.Start, false, nil
	default:
		r.obs.Branch(name, "overflow", n.Next)
		return n.Next, false, nil
	}
}

func (r *run) loadFlow(ctx context.Context, name string) (*flows.Doc, error) {
	if r.e.deps.Flows == nil {
		return nil, fmt.Errorf("flow %s: %w", name, ErrFlowNotFound)
	}
	return r.e.deps.Flows.LoadFlow(ctx, name)
}
