package api

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
)

type (
	Backup     = cluster.Backup
	BackupInfo = cluster.BackupInfo
)

// handleSnapshot is GET /v1/cluster/snapshot: a consistent backup of the
// replicated state as a download (a JSON header line, then the state).
// X-Shepherd-Index is the Raft index the backup reflects.
func (s *Server) handleSnapshot(c echo.Context) error {
	b, err := s.b.OpenBackup(c.Request().Context())
	if err != nil {
		return err
	}
	defer func() {
		if err := b.Close(); err != nil {
			s.logger.Warn("close backup", "error", err)
		}
	}()
	// A large state may take longer to send than the server's write
	// timeout, which is sized for long-polls.
	_ = http.NewResponseController(c.Response().Writer).SetWriteDeadline(time.Time{})
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/octet-stream")
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="shepherd-%s-%d.backup"`, b.Info.Node, b.Info.Index))
	h.Set(echo.HeaderContentLength, strconv.FormatInt(b.Len(), 10))
	h.Set(headerIndex, strconv.FormatUint(b.Info.Index, 10))
	c.Response().WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.Response(), b); err != nil {
		s.logger.Warn("backup download interrupted", "error", err)
	}
	return nil
}

// handleRestore is POST /v1/cluster/restore with a backup as the body: it
// replaces the replicated state on every master, through Raft. The body is
// not subject to the JSON body limit; its header names its size, and it is
// verified completely before anything changes (400 when it is not valid).
func (s *Server) handleRestore(c echo.Context) error {
	_ = http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Time{})
	info, err := s.b.Restore(c.Request().Context(), c.Request().Body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toBackupInfo(info))
}

func toBackupInfo(b BackupInfo) client.BackupInfo {
	return client.BackupInfo{Format: b.Format, Version: b.Version, Node: b.Node, Index: b.Index, Term: b.Term,
		CreatedAt: b.CreatedAt, Size: b.Size, SHA256: b.SHA256}
}
