package api

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster"
	"github.com/shepherd/shepherd/fsm"
)

// TokenAdmin creates and revokes replicated tokens (leader only).
// *cluster.Node implements it; a Backend without it answers 404 on the
// write endpoints.
type TokenAdmin interface {
	CreateToken(ctx context.Context, name string, scopes []string) (fsm.Token, string, error)
	RevokeToken(ctx context.Context, id string) error
}

var errTokensUnsupported = &httpError{http.StatusNotFound, codeNotFound, "this master cannot manage tokens"}

// maxScopes bounds a create request's scope list.
const maxScopes = 8

// tokenRoutes registers /v1/tokens (admin scope, see routeScopes' default).
func (s *Server) tokenRoutes() {
	s.e.POST("/v1/tokens", s.handleCreateToken, s.leaderOnly, s.writeIndex)
	s.e.GET("/v1/tokens", s.handleListTokens, s.consistentRead, s.readIndex)
	s.e.DELETE("/v1/tokens/:id", s.handleRevokeToken, s.leaderOnly, s.writeIndex)
}

func (s *Server) tokenAdmin() (TokenAdmin, error) {
	if ta, ok := s.b.(TokenAdmin); ok {
		return ta, nil
	}
	return nil, errTokensUnsupported
}

// handleCreateToken is POST /v1/tokens {"name", "scopes"}: 201 with the
// token, shown this once.
func (s *Server) handleCreateToken(c echo.Context) error {
	ta, err := s.tokenAdmin()
	if err != nil {
		return err
	}
	var req client.CreateTokenRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	if len(req.Scopes) == 0 || len(req.Scopes) > maxScopes {
		return badRequest("scopes must list 1 to %d of %v", maxScopes, Scopes)
	}
	for _, sc := range req.Scopes {
		if !ValidScope(sc) {
			return badRequest("unknown scope %q (want one of %v, or worker:<id>)", sc, Scopes)
		}
	}
	if len(req.Name) > maxKeyLen {
		return badRequest("name must be at most %d characters", maxKeyLen)
	}
	tok, secret, err := ta.CreateToken(c.Request().Context(), req.Name, req.Scopes)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, client.CreatedToken{TokenInfo: tokenInfo(tok), Token: secret})
}

// handleListTokens is GET /v1/tokens: ids, names and scopes, no hashes.
func (s *Server) handleListTokens(c echo.Context) error {
	out := client.TokenList{Tokens: []client.TokenInfo{}}
	for _, t := range s.b.State().Tokens() {
		out.Tokens = append(out.Tokens, tokenInfo(t))
	}
	return c.JSON(http.StatusOK, out)
}

// handleRevokeToken is DELETE /v1/tokens/{id}.
func (s *Server) handleRevokeToken(c echo.Context) error {
	ta, err := s.tokenAdmin()
	if err != nil {
		return err
	}
	id := c.Param("id")
	if id == "" || len(id) > maxIDLen {
		return badRequest("token id must be 1 to %d characters", maxIDLen)
	}
	if err := ta.RevokeToken(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func tokenInfo(t fsm.Token) client.TokenInfo {
	return client.TokenInfo{ID: t.ID, Name: t.Name, Scopes: t.Scopes, CreatedAt: t.CreatedAt}
}

var _ TokenAdmin = (*cluster.Node)(nil)
