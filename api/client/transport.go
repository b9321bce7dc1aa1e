package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// call describes one API request.
type call struct {
	method string
	path   string // path and query, starting with "/"
	body   []byte // nil for no body
	// timeout bounds one HTTP exchange; 0 means the client's timeout.
	timeout time.Duration
	// addr pins the request to one master: no rotation and no retry.
	addr string
}

// newCall encodes in (when non-nil) as the JSON body.
func newCall(method, path string, in any) (call, error) {
	cl := call{method: method, path: path}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return cl, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		cl.body = b
	}
	return cl, nil
}

// do runs cl, retrying on another master after a connection error or a
// 502/503/504 until ctx's deadline (or the retry budget). It decodes a 2xx
// body into out (when non-nil) and returns the final status.
func (c *Client) do(ctx context.Context, cl call, out any) (int, error) {
	status, err := c.doRetry(ctx, cl, out)
	if err != nil {
		return status, fmt.Errorf("%s %s: %w", strings.ToLower(cl.method), cl.path, err)
	}
	return status, nil
}

func (c *Client) doRetry(ctx context.Context, cl call, out any) (int, error) {
	if cl.addr != "" {
		return c.follow(ctx, c.normalize(cl.addr), cl, out)
	}
	if len(c.masters) == 0 {
		return 0, errors.New("no masters configured")
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.retryBudget)
	}
	backoff := c.minBackoff
	var last error // the last error a master gave, kept when ctx ends mid-try
	for try := 1; ; try++ {
		base := c.target()
		status, err := c.follow(ctx, base, cl, out)
		if err == nil {
			return status, nil
		}
		if !retryable(ctx, err) {
			return status, withLast(ctx, err, last)
		}
		last = err
		c.forget(base)
		pause := jitter(backoff)
		if time.Now().Add(pause).After(deadline) {
			return status, err
		}
		c.logger.Debug("retrying request", "method", cl.method, "path", cl.path,
			"master", base, "try", try, "error", err)
		if err := sleep(ctx, pause); err != nil {
			return status, withLast(ctx, err, last)
		}
		backoff = min(2*backoff, c.maxBackoff)
	}
}

// withLast adds the previous try's error to err when ctx ended, so that a
// caller sees why the earlier tries failed (errors.Is matches both).
func withLast(ctx context.Context, err, last error) error {
	if last == nil || ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%w; last error: %w", ctx.Err(), last)
}

// follow sends cl to base and follows up to maxRedirects 307/308 answers,
// resending the same method and body. The redirect target is remembered as
// the leader.
func (c *Client) follow(ctx context.Context, base string, cl call, out any) (int, error) {
	u := base + cl.path
	for hop := 0; ; hop++ {
		status, loc, err := c.send(ctx, u, cl, out)
		if err != nil {
			if hop > 0 && retryable(ctx, err) {
				c.forget(origin(u))
			}
			return status, err
		}
		if loc == "" {
			return status, nil
		}
		if hop == maxRedirects {
			return status, ErrTooManyRedirects
		}
		next, err := resolve(u, loc)
		if err != nil {
			return status, err
		}
		c.logger.Debug("following redirect", "from", u, "to", next)
		if cl.addr == "" {
			c.setLeader(origin(next))
		}
		u = next
	}
}

// send makes one HTTP exchange. It returns the Location of a redirect, or
// decodes the answer: a 2xx into out, anything else into an *Error.
func (c *Client) send(ctx context.Context, u string, cl call, out any) (int, string, error) {
	timeout := cl.timeout
	if timeout <= 0 {
		timeout = c.timeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		loc := resp.Header.Get("Location")
		if loc == "" {
			return resp.StatusCode, "", fmt.Errorf("redirect %d without location", resp.StatusCode)
		}
		return resp.StatusCode, loc, nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if out == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.StatusCode, "", nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil && !errors.Is(err, io.EOF) {
			return resp.StatusCode, "", fmt.Errorf("decode answer: %w", err)
		}
		return resp.StatusCode, "", nil
	default:
		return resp.StatusCode, "", decodeError(resp)
	}
}

// decodeError turns a non-2xx answer into an *Error, tolerating bodies that
// are not the contract's shape.
func decodeError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{Status: resp.StatusCode}
	var eb ErrorBody
	if json.Unmarshal(raw, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
		return e
	}
	e.Code = codeForStatus(resp.StatusCode)
	e.Message = strings.TrimSpace(string(raw))
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// retryable is true for errors another try (maybe on another master) may
// cure: transport failures and 502/503/504 answers, unless ctx itself ended.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, ErrTooManyRedirects) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return retryableStatus(e.Status)
	}
	var ue *url.Error
	return errors.As(err, &ue) // transport failure, including a per-try timeout
}

// origin is the scheme://host part of u.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}

func resolve(from, loc string) (string, error) {
	base, err := url.Parse(from)
	if err != nil {
		return "", err
	}
	ref, err := url.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("bad redirect location %q: %w", loc, err)
	}
	return base.ResolveReference(ref).String(), nil
}

// jitter spreads d over [d/2, d) so that many clients do not retry in step.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(half)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
