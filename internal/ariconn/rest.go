package ariconn

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"
)

// do sends one ARI request bounded by ctx and the request timeout. A nil out
// discards the body. Query values go in q; JSON bodies in body.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	u := c.base + "/ari" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	req.SetBasicAuth(c.opts.User, c.opts.Password)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && c.ctxErr(ctx) != nil {
			return fmt.Errorf("ARI %s %s: %w", method, path, c.ctxErr(ctx))
		}
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("ARI %s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Method: method, Path: path, Code: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("ARI %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

func (c *Client) ctxErr(ctx context.Context) error {
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return ctx.Err()
}

// Info asks Asterisk for its system information; it is also the credential check.
func (c *Client) Info(ctx context.Context) (*ari.AsteriskInfo, error) {
	var info ari.AsteriskInfo
	if err := c.do(ctx, http.MethodGet, "/asterisk/info", nil, nil, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Answer answers a channel.
func (c *Client) Answer(ctx context.Context, channelID string) error {
	return c.do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/answer", nil, nil, nil)
}

// Play starts playing media (several URIs play in sequence) under the given
// playback ID; PlaybackFinished arrives when it ends or is stopped.
func (c *Client) Play(ctx context.Context, channelID, playbackID string, media ...string) error {
	q := url.Values{"media": media}
	return c.do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/play/"+url.PathEscape(playbackID), q, nil, nil)
}

// StopPlayback stops a playback; a playback that already ended is not an error.
func (c *Client) StopPlayback(ctx context.Context, playbackID string) error {
	err := c.do(ctx, http.MethodDelete, "/playbacks/"+url.PathEscape(playbackID), nil, nil, nil)
	if isGone(err) {
		return nil
	}
	return err
}

// Hangup hangs a channel up with an ARI reason (normal, busy, congestion, ...).
// A channel that is already gone is not an error.
func (c *Client) Hangup(ctx context.Context, channelID, reason string) error {
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	err := c.do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(channelID), q, nil, nil)
	if isGone(err) {
		return nil
	}
	return err
}

// Channel returns a channel's current data.
func (c *Client) Channel(ctx context.Context, channelID string) (*ari.ChannelData, error) {
	var d ari.ChannelData
	if err := c.do(ctx, http.MethodGet, "/channels/"+url.PathEscape(channelID), nil, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// EndpointState is an endpoint's state as Asterisk sees it: "online" when
// a PJSIP endpoint has a usable contact (a registered phone), "offline",
// or "unknown". endpoint is a dial string such as PJSIP/webrtc-1001.
func (c *Client) EndpointState(ctx context.Context, endpoint string) (string, error) {
	tech, resource, ok := strings.Cut(endpoint, "/")
	if !ok || tech == "" || resource == "" {
		return "", fmt.Errorf("ari: endpoint %q is not tech/resource", endpoint)
	}
	var d struct {
		State string `json:"state"`
	}
	if err := c.do(ctx, http.MethodGet, "/endpoints/"+url.PathEscape(tech)+"/"+url.PathEscape(resource), nil, nil, &d); err != nil {
		return "", err
	}
	return d.State, nil
}

// Channels lists the channels Asterisk has now.
func (c *Client) Channels(ctx context.Context) ([]ari.ChannelData, error) {
	var list []ari.ChannelData
	if err := c.do(ctx, http.MethodGet, "/channels", nil, nil, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// SetVariable sets a channel variable.
func (c *Client) SetVariable(ctx context.Context, channelID, name, value string) error {
	q := url.Values{"variable": {name}, "value": {value}}
	return c.do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/variable", q, nil, nil)
}

// GetVariable reads a channel variable or dialplan function.
func (c *Client) GetVariable(ctx context.Context, channelID, name string) (string, error) {
	var v struct {
		Value string `json:"value"`
	}
	q := url.Values{"variable": {name}}
	if err := c.do(ctx, http.MethodGet, "/channels/"+url.PathEscape(channelID)+"/variable", q, nil, &v); err != nil {
		return "", err
	}
	return v.Value, nil
}

func isGone(err error) bool {
	return err != nil && (errorsIs(err, ErrNotFound) || errorsIs(err, ErrConflict))
}

// PlaybackExists reports whether a playback is still known to Asterisk.
func (c *Client) PlaybackExists(ctx context.Context, playbackID string) (bool, error) {
	err := c.do(ctx, http.MethodGet, "/playbacks/"+url.PathEscape(playbackID), nil, nil, nil)
	if errorsIs(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// SubscribeChannel subscribes the application to a channel's events, so that
// they keep coming after the channel leaves Stasis (ChannelDestroyed with the
// hangup cause, in particular).
func (c *Client) SubscribeChannel(ctx context.Context, channelID string) error {
	q := url.Values{"eventSource": {"channel:" + channelID}}
	return c.do(ctx, http.MethodPost, "/applications/"+url.PathEscape(c.opts.App)+"/subscription", q, nil, nil)
}

// RecordOptions are the parameters of a channel recording.
type RecordOptions struct {
	Format      string // wav
	MaxDuration time.Duration
	MaxSilence  time.Duration
	Beep        bool
	TerminateOn string // "#", "any", "none"
}

// Record starts recording a channel under name; RecordingFinished or
// RecordingFailed arrives when it ends.
func (c *Client) Record(ctx context.Context, channelID, name string, o RecordOptions) error {
	if o.Format == "" {
		o.Format = "wav"
	}
	if o.TerminateOn == "" {
		o.TerminateOn = "none"
	}
	q := url.Values{
		"name": {name}, "format": {o.Format}, "ifExists": {"fail"},
		"maxDurationSeconds": {strconv.Itoa(int(o.MaxDuration / time.Second))},
		"maxSilenceSeconds":  {strconv.Itoa(int(o.MaxSilence / time.Second))},
		"beep":               {strconv.FormatBool(o.Beep)},
		"terminateOn":        {o.TerminateOn},
	}
	return c.do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/record", q, nil, nil)
}

// StopRecording stops a live recording and keeps what was recorded.
func (c *Client) StopRecording(ctx context.Context, name string) error {
	err := c.do(ctx, http.MethodPost, "/recordings/live/"+url.PathEscape(name)+"/stop", nil, nil, nil)
	if isGone(err) {
		return nil
	}
	return err
}

// StoredRecordingFile downloads a finished recording from Asterisk, so ccd
// keeps it without sharing Asterisk's disk.
func (c *Client) StoredRecordingFile(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*c.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/ari/recordings/stored/"+url.PathEscape(name)+"/file", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.opts.User, c.opts.Password)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 512<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Method: http.MethodGet, Path: "/recordings/stored/" + name + "/file", Code: resp.StatusCode, Body: strings.TrimSpace(string(data))}
	}
	return data, nil
}

// DeleteStoredRecording removes a recording from Asterisk once ccd has it.
func (c *Client) DeleteStoredRecording(ctx context.Context, name string) error {
	err := c.do(ctx, http.MethodDelete, "/recordings/stored/"+url.PathEscape(name), nil, nil, nil)
	if isGone(err) {
		return nil
	}
	return err
}

// OriginateOptions describe a channel Asterisk creates and dials.
type OriginateOptions struct {
	// Endpoint is what to dial, e.g. "PJSIP/1001".
	Endpoint string
	// App is the Stasis application the channel enters once answered;
	// empty means the client's own. AppArgs are its arguments.
	App     string
	AppArgs string
	// CallerID is what the called device shows: "Name <number>" or a number.
	CallerID string
	// Timeout is how long the device may ring before Asterisk gives up
	// (rounded up to whole seconds); zero means Asterisk's default, 30 s.
	Timeout time.Duration
	// ChannelID, when set, is the new channel's ID.
	ChannelID string
	// Variables are set on the channel before it is dialled.
	Variables map[string]string
}

// Originate creates a channel to an endpoint and dials it, returning at once
// with the new channel. The application is subscribed to the channel from
// the start: it gets ChannelStateChange while ringing, StasisStart once
// answered, and ChannelDestroyed with the cause if it is not (no answer,
// busy...).
func (c *Client) Originate(ctx context.Context, o OriginateOptions) (*ari.ChannelData, error) {
	if o.Endpoint == "" {
		return nil, fmt.Errorf("ariconn: originate: no endpoint")
	}
	if o.App == "" {
		o.App = c.opts.App
	}
	q := url.Values{"endpoint": {o.Endpoint}, "app": {o.App}}
	if o.AppArgs != "" {
		q.Set("appArgs", o.AppArgs)
	}
	if o.CallerID != "" {
		q.Set("callerId", o.CallerID)
	}
	if o.Timeout > 0 {
		q.Set("timeout", strconv.Itoa(int((o.Timeout+time.Second-1)/time.Second)))
	}
	if o.ChannelID != "" {
		q.Set("channelId", o.ChannelID)
	}
	var body any
	if len(o.Variables) > 0 {
		body = map[string]any{"variables": o.Variables}
	}
	var d ari.ChannelData
	if err := c.do(ctx, http.MethodPost, "/channels", q, body, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// CreateBridge creates a bridge under bridgeID; bridgeType is "mixing" when
// empty.
func (c *Client) CreateBridge(ctx context.Context, bridgeID, bridgeType string) error {
	if bridgeType == "" {
		bridgeType = "mixing"
	}
	q := url.Values{"type": {bridgeType}}
	return c.do(ctx, http.MethodPost, "/bridges/"+url.PathEscape(bridgeID), q, nil, nil)
}

// AddToBridge puts channels (in Stasis) into a bridge.
func (c *Client) AddToBridge(ctx context.Context, bridgeID string, channelIDs ...string) error {
	q := url.Values{"channel": {strings.Join(channelIDs, ",")}}
	return c.do(ctx, http.MethodPost, "/bridges/"+url.PathEscape(bridgeID)+"/addChannel", q, nil, nil)
}

// RemoveFromBridge takes channels out of a bridge; they stay up, in Stasis.
func (c *Client) RemoveFromBridge(ctx context.Context, bridgeID string, channelIDs ...string) error {
	q := url.Values{"channel": {strings.Join(channelIDs, ",")}}
	return c.do(ctx, http.MethodPost, "/bridges/"+url.PathEscape(bridgeID)+"/removeChannel", q, nil, nil)
}

// DestroyBridge destroys a bridge; its channels stay up. A bridge that is
// already gone is not an error.
func (c *Client) DestroyBridge(ctx context.Context, bridgeID string) error {
	err := c.do(ctx, http.MethodDelete, "/bridges/"+url.PathEscape(bridgeID), nil, nil, nil)
	if isGone(err) {
		return nil
	}
	return err
}

// StartMOH plays a music-on-hold class to a channel until StopMOH; it keeps
// playing if ccd goes away, so a waiting caller never hears silence.
func (c *Client) StartMOH(ctx context.Context, channelID, class string) error {
	q := url.Values{}
	if class != "" {
		q.Set("mohClass", class)
	}
	return c.do(ctx, http.MethodPost, "/channels/"+url.PathEscape(channelID)+"/moh", q, nil, nil)
}

// StopMOH stops music on hold; a channel that is gone is not an error.
func (c *Client) StopMOH(ctx context.Context, channelID string) error {
	err := c.do(ctx, http.MethodDelete, "/channels/"+url.PathEscape(channelID)+"/moh", nil, nil, nil)
	if isGone(err) {
		return nil
	}
	return err
}

// Bridges lists the bridges Asterisk has now.
func (c *Client) Bridges(ctx context.Context) ([]ari.BridgeData, error) {
	var list []ari.BridgeData
	if err := c.do(ctx, http.MethodGet, "/bridges", nil, nil, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// ChannelOf is the channel a channel event is about; "" for other events.
func ChannelOf(ev ari.Event) string {
	switch e := ev.(type) {
	case *ari.StasisStart:
		return e.Channel.ID
	case *ari.StasisEnd:
		return e.Channel.ID
	case *ari.ChannelDestroyed:
		return e.Channel.ID
	case *ari.ChannelHangupRequest:
		return e.Channel.ID
	case *ari.ChannelStateChange:
		return e.Channel.ID
	case *ari.ChannelDtmfReceived:
		return e.Channel.ID
	}
	return ""
}
