package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/shepherd/shepherd/fsm"
)

// tokenPrefix marks Shepherd tokens, so that secret scanners and people
// recognise a leaked one.
const tokenPrefix = "shp_"

// CreateToken (leader only) makes a token with the given scopes and
// replicates its hash. The token itself is returned once and stored
// nowhere.
func (n *Node) CreateToken(ctx context.Context, name string, scopes []string) (fsm.Token, string, error) {
	var idb [8]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return fsm.Token{}, "", fmt.Errorf("create token: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return fsm.Token{}, "", fmt.Errorf("create token: %w", err)
	}
	token := tokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(token))
	tok := fsm.Token{ID: hex.EncodeToString(idb[:]), Name: name, Scopes: scopes,
		Hash: hex.EncodeToString(sum[:]), CreatedAt: time.Now().UTC()}
	if _, err := n.leaderApply(ctx, fsm.PutToken{Token: tok}); err != nil {
		return fsm.Token{}, "", err
	}
	return tok, token, nil
}

// RevokeToken (leader only) deletes a token by id; it stops working on
// every master as soon as each applies the entry.
func (n *Node) RevokeToken(ctx context.Context, id string) error {
	_, err := n.leaderApply(ctx, fsm.RevokeToken{ID: id})
	return err
}
