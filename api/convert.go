package api

import (
	"github.com/shepherd/shepherd/api/client"
)

// Conversions from the fsm's and the Backend's types to the wire types of
// api/client. Times leave in UTC; slices leave as [] rather than null.

func toNodeInfo(n NodeInfo) client.NodeInfo {
	return client.NodeInfo{ID: n.ID, RaftAddr: n.RaftAddr, HTTPAddr: n.HTTPAddr, HasState: n.HasState, LeaderHTTP: n.LeaderHTTP}
}

func toRejections(rs []Rejection) []client.Rejection {
	if len(rs) == 0 {
		return nil
	}
	out := make([]client.Rejection, len(rs))
	for i, r := range rs {
		out[i] = client.Rejection{ID: r.TaskID, Code: codeOf(r.Err)}
	}
	return out
}
