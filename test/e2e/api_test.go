package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/ccd-platform/ccd/test/harness"
)

func apiGet(t *testing.T, path, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+stack.CCD().HTTPAddr()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func TestAPIRequiresToken(t *testing.T) {
	for _, tok := range []string{"", "wrong"} {
		if code, _ := apiGet(t, "/api/v1/calls", tok); code != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", tok, code)
		}
	}
	code, v := apiGet(t, "/api/v1/calls?since=1h", harness.APIToken)
	if code != http.StatusOK {
		t.Fatalf("calls: %d %v", code, v)
	}
	if _, ok := v["calls"]; !ok {
		t.Errorf("no calls list: %v", v)
	}
	if code, _ := apiGet(t, "/api/v1/calls/not-a-call", harness.APIToken); code != http.StatusNotFound {
		t.Errorf("unknown call: %d, want 404", code)
	}
	if code, v := apiGet(t, "/api/v1/calls?since=soon", harness.APIToken); code != http.StatusUnprocessableEntity {
		t.Errorf("bad since: %d %v, want 422", code, v)
	}
}
