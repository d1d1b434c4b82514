package desk

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/agentdesk"
)

var dispositionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

const maxWrapupNotes = 4000

type wrapupBody struct {
	Disposition string      `json:"disposition"`
	Notes       string      `json:"notes"`
	Agent       acd.AgentID `json:"agent_id"` // with the bearer token only: whose wrap-up it is
}

// wrapup serves POST /api/v1/calls/{id}/wrapup: the agent who handled the
// call (the gate checked it) records its disposition. Posting again
// replaces the agent's earlier wrap-up.
func (d *Desk) wrapup(w http.ResponseWriter, r *http.Request) {
	p, _ := agentdesk.PrincipalFrom(r.Context())
	call := r.PathValue("id")
	n := note(r)
	n.action, n.target = "call.wrapup", call
	var b wrapupBody
	err := decodeStrict(r, 16<<10, &b)
	if err == nil {
		err = b.check(p)
	}
	if err == nil {
		if _, perr := uuid.Parse(call); perr != nil {
			err = fmt.Errorf("%w: call %q", ErrNotFound, clean(call, 64))
		}
	}
	if err != nil {
		d.fail(w, r, err)
		return
	}
	agent := p.Agent
	if p.Bearer {
		agent = b.Agent
	}
	wu := Wrapup{Call: acd.CallID(call), Agent: agent, Disposition: b.Disposition, Notes: b.Notes, At: d.o.Now()}
	created, err := d.store.PutWrapup(r.Context(), wu)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	n.detail = map[string]any{"agent_id": agent, "disposition": wu.Disposition, "replaced": !created}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	agentdesk.WriteJSON(w, status, wu)
}

func (b *wrapupBody) check(p agentdesk.Principal) error {
	switch {
	case !dispositionRE.MatchString(b.Disposition):
		return invalidf("disposition %q: a code of lower-case letters, digits, . _ - (e.g. resolved, callback_needed)", clean(b.Disposition, 64))
	case len([]rune(b.Notes)) > maxWrapupNotes:
		return invalidf("notes: at most %d characters", maxWrapupNotes)
	case slices.Contains([]rune(b.Notes), 0):
		return invalidf("notes: contains NUL")
	case p.Bearer && b.Agent == "":
		return invalidf("agent_id is required with the bearer token: whose wrap-up is it")
	case !p.Bearer && b.Agent != "" && b.Agent != p.Agent:
		return invalidf("agent_id %q is not yours: leave it out", clean(string(b.Agent), 32))
	}
	return nil
}

// agentHistory serves GET /api/v1/agents/{id}/calls?since=720h&limit=50:
// the calls an agent talked on, with their wrap-ups, newest first.
func (d *Desk) agentHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, limit := 30*24*time.Hour, 50
	if s := q.Get("since"); s != "" {
		dur, err := time.ParseDuration(s)
		if err != nil || dur <= 0 {
			d.fail(w, r, invalidf("since=%q is not a duration like 720h", s))
			return
		}
		since = dur
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 500 {
			d.fail(w, r, invalidf("limit=%q must be 1..500", s))
			return
		}
		limit = n
	}
	agent := acd.AgentID(r.PathValue("id"))
	list, err := d.store.AgentHistory(r.Context(), agent, d.o.Now().Add(-since), limit)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if list == nil {
		list = []Interaction{}
	}
	agentdesk.WriteJSON(w, http.StatusOK, map[string]any{"agent": agent, "calls": list})
}

// HistoryLength is how many past interactions a screen pop shows.
const HistoryLength = 5

// ScreenPop builds what the agent's screen shows as a call is offered: the
// caller's number and the dialled number; the customer profile found by the
// number (or NewCaller, an empty form, when there is none); the IVR's
// context (menu path, language, trace code and lookup result, as the flow's
// variables); the queue and the time waited; and the customer's last
// HistoryLength calls with who took them and how they were wrapped up.
func (d *Desk) ScreenPop(ctx context.Context, callerNumber, did string, ivrContext map[string]string, queue string, waited time.Duration) (ScreenPop, error) {
	sp := ScreenPop{Caller: callerNumber, DID: did, NewCaller: true, IVR: IVRContext(ivrContext), Queue: queue,
		WaitedS: waited.Seconds(), History: []Interaction{}}
	phone, err := NormalizePhone(callerNumber)
	if err != nil { // withheld or not a number: nothing to look up
		return sp, nil
	}
	found, err := d.store.CustomersByPhone(ctx, phone, 10)
	if err != nil {
		return sp, err
	}
	numbers := []string{callerNumber, phone} // call records keep the number as it came
	if len(found) > 0 {
		c := found[0]
		sp.Customer, sp.NewCaller, sp.OtherMatches, sp.Priority = &c, false, len(found)-1, LevelPriority(c.Level)
		numbers = append(numbers, c.Phones...)
	}
	slices.Sort(numbers)
	history, err := d.store.Interactions(ctx, slices.Compact(numbers), HistoryLength)
	if err != nil {
		return sp, err
	}
	if history != nil {
		sp.History = history
	}
	return sp, nil
}

// IVRContext is what a screen pop shows of a flow's variables: the
// trace-code lookup's fields (trace.*) become trace_code and trace_result
// unless the flow set those itself, and the call's own identifiers (shown
// elsewhere on the pop) and the lookup's raw fields are left out.
func IVRContext(vars map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range vars {
		switch {
		case k == "call_id", k == "caller", k == "caller_name", k == "did", strings.HasPrefix(k, "trace."):
		default:
			out[k] = v
		}
	}
	if out["trace_code"] == "" && vars["trace.code"] != "" {
		out["trace_code"] = vars["trace.code"]
	}
	if out["trace_result"] == "" && vars["trace.product"] != "" {
		var parts []string
		for _, k := range []string{"trace.product", "trace.origin", "trace.produced_on"} {
			if v := vars[k]; v != "" {
				parts = append(parts, v)
			}
		}
		out["trace_result"] = strings.Join(parts, ", ")
	}
	return out
}

// CallerPriority is the ACD priority for a caller: LevelPriority of the
// customer found by the number, 0 for an unknown caller.
func (d *Desk) CallerPriority(ctx context.Context, callerNumber string) (int, error) {
	phone, err := NormalizePhone(callerNumber)
	if err != nil {
		return 0, nil
	}
	found, err := d.store.CustomersByPhone(ctx, phone, 1)
	if err != nil || len(found) == 0 {
		return 0, err
	}
	return LevelPriority(found[0].Level), nil
}
