package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/shepherd/shepherd/api/client"
)

type httpPayload struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	// Body is sent as is, or as its text when it is a JSON string.
	Body    json.RawMessage   `json:"body"`
	Headers map[string]string `json:"headers"`
}

type httpResult struct {
	Status    int    `json:"status"`
	Body      string `json:"body"`
	Truncated bool   `json:"truncated,omitempty"`
}

// httpExecutor makes one HTTP request. A status of 500 or more fails the
// attempt (retryable); any other status completes it.
func (w *Worker) httpExecutor(ctx context.Context, t client.Task) (json.RawMessage, error) {
	var p httpPayload
	if err := decodePayload(t.Payload, &p); err != nil {
		return nil, err
	}
	if p.Method == "" {
		p.Method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, p.Method, p.URL, bytes.NewReader(requestBody(p.Body)))
	if err != nil || req.URL.Host == "" {
		return nil, NoRetry(fmt.Errorf("bad request %s %q: %v", p.Method, p.URL, err))
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	resp, err := w.httpc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("http request: %w", err)
	}
	defer resp.Body.Close()
	var body capped
	if _, err := io.Copy(&body, resp.Body); err != nil {
		return nil, fmt.Errorf("read http answer: %w", err)
	}
	if resp.StatusCode >= 500 {
		return nil, fmt.Errorf("http status %d: %s", resp.StatusCode, head(body.String(), 512))
	}
	return json.Marshal(httpResult{Status: resp.StatusCode, Body: body.String(), Truncated: body.truncated()})
}

func requestBody(raw json.RawMessage) []byte {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return raw
}

// head returns at most n bytes of s.
func head(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
