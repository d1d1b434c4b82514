package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

// API calls the stack's admin API with the bearer token, body encoded as
// JSON when not nil, and returns the status and the body. A request that
// cannot be made fails the test.
func (s *Stack) API(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+s.Config.HTTP.Listen+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+APIToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// MustAPI is API failing the test on a status above 299.
func (s *Stack) MustAPI(t testing.TB, method, path string, body any) []byte {
	t.Helper()
	code, out := s.API(t, method, path, body)
	if code > 299 {
		t.Fatalf("%s %s: %d %s", method, path, code, out)
	}
	return out
}

// LogoutEventually logs agent id out through the admin API, retrying for up
// to within while a call or wrap-up keeps the agent busy; an agent already
// logged out is fine. For t.Cleanup: a failure is reported, not fatal.
func (s *Stack) LogoutEventually(t testing.TB, id string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within+5*time.Second)
	defer cancel()
	err := Eventually(ctx, within, func() error {
		code, out := s.API(t, http.MethodPost, "/api/v1/agents/"+id+"/logout", nil)
		if code < 300 {
			return nil
		}
		var st struct {
			State acd.State `json:"state"`
		}
		_, cur := s.API(t, http.MethodGet, "/api/v1/agents/"+id+"/state", nil)
		if json.Unmarshal(cur, &st) == nil && st.State == acd.LoggedOut {
			return nil
		}
		return fmt.Errorf("logout %s: %d %s", id, code, out)
	})
	if err != nil {
		t.Errorf("agent %s: %v", id, err)
	}
}
