package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// CreateTokenRequest is the body of POST /v1/tokens.
type CreateTokenRequest struct {
	Name   string   `json:"name,omitempty"`
	Scopes []string `json:"scopes"`
}

// TokenInfo describes a token without its secret (GET /v1/tokens).
type TokenInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	Scopes    []string  `json:"scopes"`
	CreatedAt time.Time `json:"created_at"`
}

// CreatedToken is the answer of POST /v1/tokens: the only time the token
// itself is shown.
type CreatedToken struct {
	TokenInfo
	Token string `json:"token"`
}

// TokenList is the answer of GET /v1/tokens.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens"`
}

// CreateToken asks the leader for a new token (admin scope). A retry after
// a lost answer may create a second token; list and revoke the extra.
func (c *Client) CreateToken(ctx context.Context, req CreateTokenRequest) (CreatedToken, error) {
	var out CreatedToken
	cl, err := newCall(http.MethodPost, "/v1/tokens", req)
	if err != nil {
		return out, err
	}
	_, err = c.do(ctx, cl, &out)
	return out, err
}

// ListTokens lists the tokens (admin scope).
func (c *Client) ListTokens(ctx context.Context) (TokenList, error) {
	var out TokenList
	_, err := c.do(ctx, call{method: http.MethodGet, path: "/v1/tokens?consistent=true"}, &out)
	return out, err
}

// RevokeToken deletes a token by id (admin scope).
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	_, err := c.do(ctx, call{method: http.MethodDelete, path: "/v1/tokens/" + url.PathEscape(id)}, nil)
	return err
}
