package client

import (
	"context"
	"net/http"
)

// ClusterStatus returns the cluster as the answering master sees it.
func (c *Client) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	var out ClusterStatus
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/cluster"}, &out)
	return out, err
}

// NodeInfo asks exactly the master at addr about itself (GET
// /v1/cluster/self), without retries or rotation.
func (c *Client) NodeInfo(ctx context.Context, addr string) (NodeInfo, error) {
	var out NodeInfo
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/cluster/self", addr: addr}, &out)
	return out, err
}

// Join asks the cluster to add a master. It is sent to addr (the leader or
// any member) and follows the redirect to the leader, but neither rotates
// nor retries: the caller decides how long to keep trying.
func (c *Client) Join(ctx context.Context, addr string, req JoinRequest) error {
	cl, err := newCall(http.MethodPost, "/v1/cluster/join", req)
	if err != nil {
		return err
	}
	cl.addr = addr
	_, err = c.do(ctx, cl, nil)
	return err
}

// Health returns nil when the master at addr serves (GET /v1/health).
func (c *Client) Health(ctx context.Context, addr string) error {
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/health", addr: addr}, nil)
	return err
}
