package api

import (
	"net"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/api/wire"
)

// handleClusterStatus is GET /v1/cluster, answered by any master.
func (s *Server) handleClusterStatus(c echo.Context) error {
	return c.JSON(http.StatusOK, wire.ClusterStatus(s.b.Status()))
}

// handleSelf is GET /v1/cluster/self: this master, for discovery at
// start-up. Never redirected.
func (s *Server) handleSelf(c echo.Context) error {
	return c.JSON(http.StatusOK, toNodeInfo(s.b.Self()))
}

// handleJoin is POST /v1/cluster/join: add a master as a voter.
func (s *Server) handleJoin(c echo.Context) error {
	var req client.JoinRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	if req.ID == "" || req.RaftAddr == "" {
		return badRequest("id and raft_addr are required")
	}
	if _, _, err := net.SplitHostPort(req.RaftAddr); err != nil {
		return badRequest("raft_addr must be host:port, not %q", req.RaftAddr)
	}
	if req.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(req.HTTPAddr); err != nil {
			return badRequest("http_addr must be host:port, not %q", req.HTTPAddr)
		}
	}
	join := s.b.Join
	switch req.Suffrage {
	case "", "voter":
		req.Suffrage = "voter"
	case "nonvoter":
		join = s.b.JoinNonvoter
	default:
		return badRequest("suffrage must be voter or nonvoter, not %q", req.Suffrage)
	}
	if err := join(c.Request().Context(), req.ID, req.RaftAddr, req.HTTPAddr); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, client.ServerInfo{ID: req.ID, RaftAddr: req.RaftAddr, HTTPAddr: req.HTTPAddr, Suffrage: req.Suffrage})
}

// handleHealth is GET /v1/health: 200 while the process serves.
func (s *Server) handleHealth(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "node": s.b.NodeID()})
}

// handleReady is GET /v1/ready: 200 once the node knows a leader and has
// caught up with the commit index it last heard of, else 503.
func (s *Server) handleReady(c echo.Context) error {
	if !s.b.Ready() {
		return &httpError{http.StatusServiceUnavailable, codeNotReady,
			"not ready: no known leader or the log is not applied up to the commit index"}
	}
	return c.JSON(http.StatusOK, map[string]bool{"ready": true})
}

// handleNotFound answers unknown /v1 paths.
func (s *Server) handleNotFound(c echo.Context) error {
	return notFound("no route for %s %s", c.Request().Method, c.Request().URL.Path)
}
