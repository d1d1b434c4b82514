package desk_test

import (
	"maps"
	"testing"

	"github.com/ccd-platform/ccd/agentdesk/desk"
)

func TestIVRContext(t *testing.T) {
	got := desk.IVRContext(map[string]string{
		"call_id": "c1", "caller": "138", "did": "4006001000", "language": "zh", "menu_path": "1",
		"trace.code": "6901234567892", "trace.product": "猪肉", "trace.origin": "河南漯河", "trace.produced_on": "2026-11-03",
		"trace.batch": "B 2 0", "code": "6901234567892",
	})
	want := map[string]string{"language": "zh", "menu_path": "1", "code": "6901234567892",
		"trace_code": "6901234567892", "trace_result": "猪肉, 河南漯河, 2026-11-03"}
	if !maps.Equal(got, want) {
		t.Errorf("IVRContext = %v, want %v", got, want)
	}
	// What the flow set itself wins.
	got = desk.IVRContext(map[string]string{"trace_result": "flow's own", "trace.product": "x"})
	if got["trace_result"] != "flow's own" {
		t.Errorf("trace_result = %q", got["trace_result"])
	}
}
