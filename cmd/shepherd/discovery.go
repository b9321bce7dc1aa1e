package main

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
)

// httpDiscovery lets masters find each other over their HTTP APIs.
type httpDiscovery struct{ c *client.Client }

func newHTTPDiscovery(logger hclog.Logger, opts ...client.Option) httpDiscovery {
	opts = append([]client.Option{client.WithTimeout(5 * time.Second), client.WithRetryBudget(0), client.WithLogger(logger)}, opts...)
	return httpDiscovery{c: client.New(nil, opts...)}
}

func (d httpDiscovery) NodeInfo(ctx context.Context, addr string) (cluster.NodeInfo, error) {
	info, err := d.c.NodeInfo(ctx, addr)
	if err != nil {
		return cluster.NodeInfo{}, err
	}
	return cluster.NodeInfo{ID: info.ID, RaftAddr: info.RaftAddr, HTTPAddr: info.HTTPAddr,
		HasState: info.HasState, LeaderHTTP: info.LeaderHTTP}, nil
}

func (d httpDiscovery) Join(ctx context.Context, addr string, self cluster.NodeInfo) error {
	req := client.JoinRequest{ID: self.ID, RaftAddr: self.RaftAddr, HTTPAddr: self.HTTPAddr}
	if self.NonVoter {
		req.Suffrage = "nonvoter"
	}
	return d.c.Join(ctx, addr, req)
}
