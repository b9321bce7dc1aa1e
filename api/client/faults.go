package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// FaultRequest is the body of POST /v1/faults: a network fault on the
// answering master's Raft transport (only with --enable-fault-injection).
type FaultRequest struct {
	// Peers are server ids or Raft addresses; empty means every peer.
	Peers []string `json:"peers,omitempty"`
	// Direction is "in", "out" or "both" (the default), seen from the
	// answering master.
	Direction string `json:"direction,omitempty"`
	// Action is "drop" (reset connections, refuse dials), "delay" (add
	// latency) or "blackhole" (stall traffic until the fault ends).
	Action string `json:"action"`
	// Delay and Jitter are Go durations, for "delay".
	Delay  string `json:"delay,omitempty"`
	Jitter string `json:"jitter,omitempty"`
	// Probability that one read or write is affected (0 or absent: 1).
	Probability float64 `json:"probability,omitempty"`
	// Duration is how long the fault lasts; absent: until deleted.
	Duration string `json:"duration,omitempty"`
}

// Fault is an active fault.
type Fault struct {
	ID string `json:"id"`
	FaultRequest
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// FaultList is the answer of GET /v1/faults.
type FaultList struct {
	Faults []Fault `json:"faults"`
}

// FaultsRemoved is the answer of DELETE /v1/faults.
type FaultsRemoved struct {
	Removed int `json:"removed"`
}

// AddFault injects a fault on exactly the master at addr (faults are
// node-local: never redirected, never retried elsewhere).
func (c *Client) AddFault(ctx context.Context, addr string, req FaultRequest) (Fault, error) {
	var out Fault
	cl, err := newCall(http.MethodPost, "/v1/faults", req)
	if err != nil {
		return out, err
	}
	cl.addr = addr
	_, err = c.do(ctx, cl, &out)
	return out, err
}

// ListFaults returns the faults active on the master at addr.
func (c *Client) ListFaults(ctx context.Context, addr string) ([]Fault, error) {
	var out FaultList
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/faults", addr: addr}, &out)
	return out.Faults, err
}

// ClearFaults removes every fault on the master at addr.
func (c *Client) ClearFaults(ctx context.Context, addr string) (int, error) {
	var out FaultsRemoved
	_, err := c.do(ctx, call{method: http.MethodDelete, path: "/v1/faults", addr: addr}, &out)
	return out.Removed, err
}

// RemoveFault removes one fault on the master at addr.
func (c *Client) RemoveFault(ctx context.Context, addr, id string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: "/v1/faults/" + url.PathEscape(id), addr: addr}, nil)
	return err
}
