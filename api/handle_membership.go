package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
)

// handleRemoveServer is DELETE /v1/cluster/servers/{id}[?force=true]:
// remove a master from the Raft configuration and the server table. It
// answers 409 when the removal would lose quorum of the remaining live
// voters, unless forced.
func (s *Server) handleRemoveServer(c echo.Context) error {
	id := c.Param("id")
	if id == "" || len(id) > maxIDLen {
		return badRequest("server id must be 1 to %d characters", maxIDLen)
	}
	force, err := boolQuery(c, "force")
	if err != nil {
		return err
	}
	if err := s.b.RemoveServer(c.Request().Context(), id, force); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, client.RemoveServerResponse{Removed: id})
}

// handleTransferLeadership is POST /v1/cluster/transfer-leadership with an
// optional {"id"}: hand leadership to that voter, or to the most
// up-to-date one. It answers once the transfer is done.
func (s *Server) handleTransferLeadership(c echo.Context) error {
	var req client.TransferRequest
	if err := s.decode(c, &req, bodyOptional); err != nil {
		return err
	}
	if len(req.ID) > maxIDLen {
		return badRequest("id must be at most %d characters", maxIDLen)
	}
	leader, err := s.b.TransferLeadership(c.Request().Context(), req.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, client.TransferResponse{Leader: leader})
}
