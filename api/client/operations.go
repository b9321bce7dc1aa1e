package client

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

// RemoveServerResponse is the answer of DELETE /v1/cluster/servers/{id}.
type RemoveServerResponse struct {
	Removed string `json:"removed"`
}

// TransferRequest is the optional body of POST
// /v1/cluster/transfer-leadership; an empty ID lets the leader pick.
type TransferRequest struct {
	ID string `json:"id,omitempty"`
}

// TransferResponse names the leader after a transfer.
type TransferResponse struct {
	Leader string `json:"leader"`
}

// BackupInfo is the header line of a backup (GET /v1/cluster/snapshot),
// and the answer of POST /v1/cluster/restore.
type BackupInfo struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	Node      string    `json:"node"`
	Index     uint64    `json:"index"`
	Term      uint64    `json:"term"`
	CreatedAt time.Time `json:"created_at"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
}

// RemoveServer removes a master from the cluster. Without force the leader
// refuses (409 conflict) when the removal would lose quorum of the
// remaining live voters.
func (c *Client) RemoveServer(ctx context.Context, id string, force bool) error {
	path := "/v1/cluster/servers/" + url.PathEscape(id)
	if force {
		path += "?force=true"
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: path}, nil)
	return err
}

// TransferLeadership asks the leader to hand leadership to id (any
// up-to-date voter when empty) and returns the new leader's id. It is sent
// once, to the master the client prefers, following redirects: a blind
// retry could move leadership twice.
func (c *Client) TransferLeadership(ctx context.Context, id string) (string, error) {
	cl, err := newCall(http.MethodPost, "/v1/cluster/transfer-leadership", TransferRequest{ID: id})
	if err != nil {
		return "", err
	}
	cl.addr = c.target()
	cl.timeout = 30 * time.Second
	var out TransferResponse
	_, err = c.do(ctx, cl, &out)
	return out.Leader, err
}

// Backup downloads a consistent backup from the leader into w and returns
// its size in bytes. Verify it with the header's size and sha256 (restore
// does).
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	resp, err := c.stream(ctx, http.MethodGet, "/v1/cluster/snapshot", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("download backup: %w", err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("download backup: got %d of %d bytes", n, resp.ContentLength)
	}
	return n, nil
}

// Restore uploads a backup to the leader, which replaces the replicated
// state with it on every master.
func (c *Client) Restore(ctx context.Context, backup io.ReadSeeker) (BackupInfo, error) {
	var info BackupInfo
	resp, err := c.stream(ctx, http.MethodPost, "/v1/cluster/restore", backup)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return info, fmt.Errorf("restore: decode answer: %w", err)
	}
	return info, nil
}

// stream sends one request whose body or answer may be too large for
// memory, to the leader if known, else to each master in turn, following
// redirects (the body is rewound for each try). Only ctx bounds it. It
// returns the 2xx response for the caller to read and close.
func (c *Client) stream(ctx context.Context, method, path string, body io.ReadSeeker) (*http.Response, error) {
	var candidates []string
	if l := c.Leader(); l != "" {
		candidates = append(candidates, l)
	}
	candidates = append(candidates, c.masters...)
	if len(candidates) == 0 {
		return nil, errors.New("no masters configured")
	}
	var last error
	for _, base := range candidates {
		resp, err := c.streamTo(ctx, base+path, method, body)
		if err == nil {
			return resp, nil
		}
		last = fmt.Errorf("%s %s: %w", method, base+path, err)
		if !retryable(ctx, err) {
			return nil, last
		}
	}
	return nil, last
}

func (c *Client) streamTo(ctx context.Context, u, method string, body io.ReadSeeker) (*http.Response, error) {
	for hop := 0; ; hop++ {
		var rd io.Reader
		if body != nil {
			if _, err := body.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
			rd = io.NopCloser(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect:
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			if hop == maxRedirects {
				return nil, ErrTooManyRedirects
			}
			if u, err = resolve(u, resp.Header.Get("Location")); err != nil {
				return nil, err
			}
			c.setLeader(origin(u))
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return resp, nil
		default:
			err := decodeError(resp)
			resp.Body.Close()
			return nil, err
		}
	}
}
