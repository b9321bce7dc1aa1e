package fsm

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Issue 7: API tokens (30-39 reserved for it). The log and the snapshots
// hold only a token's sha256, never the token.
const (
	CmdPutToken    CommandType = 30
	CmdRevokeToken CommandType = 31
)

func init() {
	commandNames[CmdPutToken] = "put-token"
	commandNames[CmdRevokeToken] = "revoke-token"
}

// TokenScopes are the scopes a token may carry (api.Scope mirrors them).
var TokenScopes = []string{"worker", "submit", "read", "admin"}

// Token is an API token as the cluster stores it.
type Token struct {
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	Scopes []string `json:"scopes"`
	// Hash is the lowercase hex sha256 of the token.
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
}

// PutToken adds a token. Its id and hash must be new.
type PutToken struct {
	Token Token `json:"token"`
}

// RevokeToken deletes a token by id.
type RevokeToken struct {
	ID string `json:"id"`
}

func (PutToken) Type() CommandType    { return CmdPutToken }
func (RevokeToken) Type() CommandType { return CmdRevokeToken }

// Token limits, so a token command cannot bloat the state.
const (
	maxTokenIDLen   = 64
	maxTokenNameLen = 256
	maxTokens       = 10_000
)

// tokenTable is the replicated token state; the zero value is empty.
type tokenTable struct {
	byID   map[string]Token
	byHash map[string]string // hash -> id
}

func (t *tokenTable) put(tok Token) {
	if t.byID == nil {
		t.byID, t.byHash = make(map[string]Token), make(map[string]string)
	}
	t.byID[tok.ID] = tok
	t.byHash[tok.Hash] = tok.ID
}

// dispatchToken applies a token command; ok is false for other commands.
func (f *FSM) dispatchToken(cmd Command) (Response, bool) {
	switch c := cmd.(type) {
	case PutToken:
		return f.applyPutToken(c), true
	case RevokeToken:
		return f.applyRevokeToken(c), true
	}
	return Response{}, false
}

func (f *FSM) applyPutToken(c PutToken) Response {
	tok := c.Token
	if err := checkToken(tok); err != nil {
		return Response{Err: err}
	}
	tt := &f.s.tokens
	if _, dup := tt.byID[tok.ID]; dup {
		return Response{Err: fmt.Errorf("%w: token %q exists", ErrConflict, tok.ID)}
	}
	if _, dup := tt.byHash[tok.Hash]; dup {
		return Response{Err: fmt.Errorf("%w: a token with this hash exists", ErrConflict)}
	}
	if len(tt.byID) >= maxTokens {
		return Response{Err: fmt.Errorf("%w: at most %d tokens", ErrInvalid, maxTokens)}
	}
	tok.Scopes = slices.Clone(tok.Scopes)
	sort.Strings(tok.Scopes)
	tt.put(tok)
	return Response{}
}

func (f *FSM) applyRevokeToken(c RevokeToken) Response {
	tt := &f.s.tokens
	tok, ok := tt.byID[c.ID]
	if !ok {
		return Response{Err: fmt.Errorf("%w: token %q", ErrNotFound, c.ID)}
	}
	delete(tt.byID, c.ID)
	delete(tt.byHash, tok.Hash)
	return Response{}
}

func checkToken(tok Token) error {
	switch {
	case tok.ID == "" || len(tok.ID) > maxTokenIDLen:
		return fmt.Errorf("%w: token id must be 1 to %d characters", ErrInvalid, maxTokenIDLen)
	case len(tok.Name) > maxTokenNameLen:
		return fmt.Errorf("%w: token name longer than %d", ErrInvalid, maxTokenNameLen)
	case len(tok.Hash) != 64 || !isLowerHex(tok.Hash):
		return fmt.Errorf("%w: token hash must be 64 lowercase hex digits", ErrInvalid)
	case len(tok.Scopes) == 0:
		return fmt.Errorf("%w: a token needs at least one scope", ErrInvalid)
	}
	for _, s := range tok.Scopes {
		if !slices.Contains(TokenScopes, s) && !validBoundWorkerScope(s) {
			return fmt.Errorf("%w: unknown scope %q (want %v or worker:<id>)", ErrInvalid, s, TokenScopes)
		}
	}
	return nil
}

// BoundWorkerScope is the scope prefix of a worker token that may act
// only as one worker: "worker:w1".
const BoundWorkerScope = "worker:"

func validBoundWorkerScope(s string) bool {
	id, ok := strings.CutPrefix(s, BoundWorkerScope)
	return ok && id != "" && len(id) <= maxTokenIDLen*4 && !strings.ContainsAny(id, "/ ")
}

func isLowerHex(s string) bool {
	_, err := hex.DecodeString(s)
	for _, c := range s {
		if c >= 'A' && c <= 'F' {
			return false
		}
	}
	return err == nil
}

// TokenScopes returns the scopes of the token whose sha256 is hash.
// It implements api.TokenStore.
func (f *FSM) TokenScopes(hash string) ([]string, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	id, ok := f.s.tokens.byHash[hash]
	if !ok {
		return nil, false
	}
	return slices.Clone(f.s.tokens.byID[id].Scopes), true
}

// HasTokens reports whether any token exists.
func (f *FSM) HasTokens() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.s.tokens.byID) > 0
}

// Tokens lists the tokens in id order.
func (f *FSM) Tokens() []Token {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return sortedTokens(&f.s.tokens)
}

func sortedTokens(t *tokenTable) []Token {
	out := make([]Token, 0, len(t.byID))
	for _, tok := range t.byID {
		out = append(out, tok)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Snapshot: header.Tokens token lines in id order follow every other
// record. The header field is omitted when there are none, so a snapshot
// without tokens is byte-identical to one written before tokens existed; a
// build that does not know tokens refuses a snapshot that has some (it
// sees trailing records) rather than dropping them.

func (s *fsmSnapshot) encodeTokens(enc *json.Encoder) error {
	for _, tok := range s.tokens {
		if err := enc.Encode(tok); err != nil {
			return fmt.Errorf("write snapshot token %s: %w", tok.ID, err)
		}
	}
	return nil
}

func readSnapshotTokens(dec *json.Decoder, h snapshotHeader, s *state) error {
	if h.Tokens < 0 {
		return fmt.Errorf("corrupt snapshot header: %d tokens", h.Tokens)
	}
	for i := 0; i < h.Tokens; i++ {
		var tok Token
		if err := dec.Decode(&tok); err != nil {
			return fmt.Errorf("read token %d of %d: %w", i, h.Tokens, err)
		}
		if err := checkToken(tok); err != nil {
			return fmt.Errorf("snapshot token %d of %d: %w", i, h.Tokens, err)
		}
		if _, dup := s.tokens.byID[tok.ID]; dup {
			return fmt.Errorf("snapshot has token %q twice", tok.ID)
		}
		if _, dup := s.tokens.byHash[tok.Hash]; dup {
			return fmt.Errorf("snapshot tokens share a hash")
		}
		s.tokens.put(tok)
	}
	return nil
}
