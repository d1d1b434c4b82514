package acde2e

import (
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/app"
	"github.com/ccd-platform/ccd/internal/localstack"
	"github.com/ccd-platform/ccd/test/harness"
)

// A second ccd instance shares Redis, PostgreSQL and NATS with the first
// (its own ARI application, so Asterisk gives it no calls): a call-control
// command it takes for a call the first instance runs is carried out there,
// and its answer, refusals included, comes back typed.
func TestCallControlFromAnotherInstance(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := stack.Config
	cfg.Instance, cfg.ARI.App = "ccd-b", "ccd-b"
	cfg.HTTP.Listen = "127.0.0.1:" + strconv.Itoa(port)
	cfg.NATS.URL = stack.CCD().NATSURL()
	cfg.Storage.Dir = filepath.Join(t.TempDir(), "data")
	b, err := app.Start(ctx, cfg, zap.NewNop())
	if err != nil {
		t.Fatalf("second instance: %v", err)
	}
	t.Cleanup(b.Close)
	if err := harness.Eventually(ctx, 20*time.Second, func() error {
		if !b.ARIConnected() {
			return errors.New("second instance not connected to ARI")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	s, id, c := callFirstAgent(t, ctx, testQueue("multi"), "4006002037", "1001", "1002")
	login(t, "1002")
	time.Sleep(1500 * time.Millisecond)

	h := b.Router().CTIHandler(nil) // the second instance's command handler
	li := cti.Identity{User: "li.na", Role: cti.RoleAgent, Agent: "1001"}
	st, err := h.Hold(ctx, li, cti.HoldRequest{Agent: "1001", CallID: cti.CallID(id)})
	if err != nil || st.State != cti.CallStateHeld {
		t.Fatalf("hold through the second instance: %+v %v", st, err)
	}
	held := eventAt(t, ctx, "call.held", id, nil)
	if _, err := h.Hold(ctx, li, cti.HoldRequest{Agent: "1001", CallID: cti.CallID(id)}); !errors.Is(err, cti.ErrIllegalState) {
		t.Errorf("second hold through the second instance: %v, want illegal_state", err)
	}
	if _, err := h.Resume(ctx, li, cti.ResumeRequest{Agent: "1001", CallID: "no-such-call"}); !errors.Is(err, cti.ErrNotFound) {
		t.Errorf("resume of an unknown call: %v, want not_found", err)
	}
	time.Sleep(2 * time.Second)
	if _, err := h.Resume(ctx, li, cti.ResumeRequest{Agent: "1001", CallID: cti.CallID(id)}); err != nil {
		t.Fatalf("resume through the second instance: %v", err)
	}
	resumed := eventAt(t, ctx, "call.resumed", id, nil)
	time.Sleep(1500 * time.Millisecond)
	ts, err := h.BlindTransfer(ctx, li, cti.BlindTransferRequest{Agent: "1001", CallID: cti.CallID(id), To: cti.ToAgent("1002")})
	if err != nil || ts.To != cti.ToAgent("1002") {
		t.Fatalf("transfer through the second instance: %+v %v", ts, err)
	}
	c2 := connectedTo(t, ctx, id, "1002")
	time.Sleep(2 * time.Second)
	end, heard := hangUp(t, s)
	checkHeard(t, s, heard, []span{
		{name: "with 1001", from: settle(c.At), to: before(held), hear: []string{"1001"}},
		{name: "held", from: settle(held), to: before(resumed), noneHeard: true},
		{name: "with 1002 after the transfer", from: settle(c2.At), to: before(end), hear: []string{"1002"}, not: []string{"1001"}},
	})
	checkRecord(t, ctx, id, "agent")
}
