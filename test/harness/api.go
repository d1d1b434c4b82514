package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
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
