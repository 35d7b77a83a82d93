package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"tartine/internal/deviceapi"
)

// StatusError is returned by Client calls when the server answers with a
// status other than 200.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string // first bytes of the body, for the log
	// RetryAfter is the server's Retry-After (seconds or an HTTP date),
	// zero when absent: do not try again sooner.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: server answered %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// Auth reports whether the server refused the device's credentials (401 or
// 403): the device id, secret or clock is wrong and retrying will not help
// until an operator fixes it.
func (e *StatusError) Auth() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// TooLarge reports whether the server refused the request for its size:
// 413, or 400 saying how many taps it takes per request.
func (e *StatusError) TooLarge() bool {
	return e.Status == http.StatusRequestEntityTooLarge ||
		e.Status == http.StatusBadRequest && strings.Contains(e.Body, "per request")
}

// Client speaks the device API. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	deviceID string
	secret   []byte
	hc       *http.Client
	now      func() time.Time
}

// NewClient returns a client for the server at baseURL (scheme and host, e.g.
// "https://tartine.example"). hc may be nil (a client with a 30 s timeout);
// now may be nil (time.Now).
func NewClient(baseURL, deviceID, secret string, hc *http.Client, now func() time.Time) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bridge: server url %q: want http(s)://host[:port]", baseURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	if now == nil {
		now = time.Now
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, deviceID: deviceID, secret: []byte(secret), hc: hc, now: now}, nil
}

func (c *Client) do(ctx context.Context, method, pathQuery string, body []byte, out any) error {
	full := c.base.String() + pathQuery
	req, err := http.NewRequestWithContext(ctx, method, full, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bridge: build request: %w", err)
	}
	// Sign what the server will see as the request URI.
	signed := c.base.Path + pathQuery
	req.Header.Set("Authorization", deviceapi.Authorization(c.deviceID, c.secret, method, signed, c.now(), body))
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("bridge: %s %s: %w", method, signed, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &StatusError{Method: method, Path: signed, Status: resp.StatusCode, Body: strings.TrimSpace(string(b)),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now())}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("bridge: %s %s: decode response: %w", method, signed, err)
	}
	return nil
}

// ErrResults is wrapped by PostTaps errors when the server's 200 answer does
// not fit the batch (no result at all, or results for other ids).
var ErrResults = errors.New("bridge: results do not match the taps sent")

// PostTaps sends a batch and returns the server's results keyed by tap id.
// A tap without a result in the answer is simply absent from the map (the
// caller keeps it and sends it again). It returns a *StatusError for a
// non-200 answer.
func (c *Client) PostTaps(ctx context.Context, taps []APITap) (map[string]TapResult, error) {
	body, err := json.Marshal(TapBatch{Taps: taps})
	if err != nil {
		return nil, fmt.Errorf("bridge: encode taps: %w", err)
	}
	var res TapResults
	if err := c.do(ctx, http.MethodPost, PathTaps, body, &res); err != nil {
		return nil, err
	}
	sent := make(map[string]bool, len(taps))
	for _, t := range taps {
		sent[t.ID] = true
	}
	out := make(map[string]TapResult, len(res.Results))
	for _, r := range res.Results {
		if sent[r.ID] {
			out[r.ID] = r
		}
	}
	if len(out) == 0 && len(taps) > 0 {
		return nil, fmt.Errorf("%w: %d results, none for the %d taps sent", ErrResults, len(res.Results), len(taps))
	}
	return out, nil
}

// Badges fetches the badge delta since cursor ("" for everything).
func (c *Client) Badges(ctx context.Context, since string) (BadgeDelta, error) {
	var d BadgeDelta
	err := c.do(ctx, http.MethodGet, PathBadges+"?since="+url.QueryEscape(since), nil, &d)
	return d, err
}

// maxRetryAfter caps a server's Retry-After: a wrong header must not stop
// the uplink for hours.
const maxRetryAfter = 5 * time.Minute

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// Zero when absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(h); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
