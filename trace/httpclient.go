package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// HTTPClient looks codes up on an external traceability platform.
//
// The contract: GET {base}/codes/{code} with "Accept: application/json".
//
//   - 200 with a JSON Record (see Record for the format) whose "code" is the
//     code asked for: found.
//   - 404: no such code (ErrNotFound).
//   - Anything else, a body that is not such a record, no complete answer
//     within the timeout, or no connection: ErrUnavailable, wrapping the cause.
//
// Bodies above 1 MiB are refused. Headers set with WithHeader (an API key,
// say) go with every request.
type HTTPClient struct {
	base    *url.URL
	client  *http.Client
	timeout time.Duration
	header  http.Header
}

// HTTPOption configures an HTTPClient.
type HTTPOption func(*HTTPClient)

// WithTimeout bounds each lookup, from connecting to reading the body
// (default 2 s, as a caller waits on the line).
func WithTimeout(d time.Duration) HTTPOption { return func(c *HTTPClient) { c.timeout = d } }

// WithHTTPClient sets the client requests go through (default: a client of
// its own on http.DefaultTransport's settings).
func WithHTTPClient(hc *http.Client) HTTPOption { return func(c *HTTPClient) { c.client = hc } }

// WithHeader adds a header to every request, e.g. an API key.
func WithHeader(key, value string) HTTPOption {
	return func(c *HTTPClient) { c.header.Add(key, value) }
}

// DefaultHTTPTimeout is how long a lookup may take unless WithTimeout says otherwise.
const DefaultHTTPTimeout = 2 * time.Second

// maxBody is the largest answer read.
const maxBody = 1 << 20

// NewHTTPClient returns a client of the platform at baseURL (http or https;
// codes are looked up under baseURL/codes/).
func NewHTTPClient(baseURL string, opts ...HTTPOption) (*HTTPClient, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("trace: platform URL %q is not an http(s) URL", baseURL)
	}
	c := &HTTPClient{base: u, timeout: DefaultHTTPTimeout, header: http.Header{}}
	for _, o := range opts {
		o(c)
	}
	if c.timeout <= 0 {
		return nil, fmt.Errorf("trace: timeout %v must be positive", c.timeout)
	}
	if c.client == nil {
		c.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c, nil
}

// Lookup asks the platform for code.
func (c *HTTPClient) Lookup(ctx context.Context, code Code) (*Record, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, c.timeout, timeoutError(c.timeout))
	defer cancel()
	if _, err := (CodeRules{}).Validate(string(code)); err != nil {
		// Only digits make a code: nothing else goes into the URL.
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	u := c.base.JoinPath("codes", string(code))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, c.unavailable(ctx, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) //nolint:errcheck // drained for reuse
		return nil, fmt.Errorf("%w: %s", ErrNotFound, code)
	default:
		return nil, fmt.Errorf("%w: GET %s: %s", ErrUnavailable, u.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, c.unavailable(ctx, err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("%w: GET %s: answer larger than %d bytes", ErrUnavailable, u.Redacted(), maxBody)
	}
	var rec Record
	if err := json.Unmarshal(body, &rec); err != nil {
		return nil, fmt.Errorf("%w: GET %s: answer is not a trace record: %w", ErrUnavailable, u.Redacted(), err)
	}
	if rec.Code != code {
		return nil, fmt.Errorf("%w: GET %s: answer is the record of %q", ErrUnavailable, u.Redacted(), rec.Code)
	}
	return &rec, nil
}

// timeoutError is the cause of a lookup's end at its timeout.
type timeoutError time.Duration

func (e timeoutError) Error() string {
	return fmt.Sprintf("no answer from the traceability platform within %v", time.Duration(e))
}

func (e timeoutError) Unwrap() error { return context.DeadlineExceeded }

// unavailable wraps a transport error, naming the timeout when it was the cause.
func (c *HTTPClient) unavailable(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
		return fmt.Errorf("%w: %w (%w)", ErrUnavailable, cause, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
