package fsm

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func testToken(id, hashDigit string, scopes ...string) Token {
	return Token{ID: id, Name: "n-" + id, Scopes: scopes, Hash: strings.Repeat(hashDigit, 64), CreatedAt: at(0)}
}

func TestTokenPutLookupRevoke(t *testing.T) {
	h := newHarness(t)
	if h.f.HasTokens() {
		t.Fatal("new state has tokens")
	}
	h.must(PutToken{Token: testToken("t1", "a", "submit", "read")})
	sc, ok := h.f.TokenScopes(strings.Repeat("a", 64))
	if !ok || len(sc) != 2 || sc[0] != "read" || sc[1] != "submit" {
		t.Fatalf("scopes %v %v", sc, ok)
	}
	if _, ok := h.f.TokenScopes(strings.Repeat("b", 64)); ok {
		t.Fatal("unknown hash found")
	}
	h.must(RevokeToken{ID: "t1"})
	if _, ok := h.f.TokenScopes(strings.Repeat("a", 64)); ok || h.f.HasTokens() {
		t.Fatal("revoked token still valid")
	}
}

func TestTokenRejections(t *testing.T) {
	h := newHarness(t)
	h.must(PutToken{Token: testToken("t1", "a", "admin")})
	cases := []struct {
		cmd  Command
		want error
	}{
		{PutToken{Token: testToken("t1", "b", "read")}, ErrConflict},
		{PutToken{Token: testToken("t2", "a", "read")}, ErrConflict},
		{PutToken{Token: testToken("t3", "c", "root")}, ErrInvalid},
		{PutToken{Token: testToken("t4", "d")}, ErrInvalid},
		{PutToken{Token: testToken("t5", "D", "read")}, ErrInvalid},
		{PutToken{Token: testToken("", "e", "read")}, ErrInvalid},
		{RevokeToken{ID: "nope"}, ErrNotFound},
	}
	for _, c := range cases {
		before := stateBytes(t, h.f)
		resp, events := h.apply(c.cmd)
		checkRejected(t, before, h.f, resp, events, c.want)
		if !errors.Is(resp.Err, c.want) {
			t.Fatalf("%+v: %v, want %v", c.cmd, resp.Err, c.want)
		}
	}
}

func TestTokensSurviveSnapshot(t *testing.T) {
	h := newHarness(t)
	empty := snapshotBytes(t, h.f)
	if bytes.Contains(empty, []byte("tokens")) {
		t.Fatal("a snapshot without tokens names them")
	}
	h.must(PutToken{Token: testToken("t2", "b", "worker")})
	h.must(PutToken{Token: testToken("t1", "a", "read")})
	snap := snapshotBytes(t, h.f)
	if bytes.Contains(snap, []byte("secret")) {
		t.Fatal("snapshot holds a secret")
	}
	r := restored(t, snap)
	if got := r.Tokens(); len(got) != 2 || got[0].ID != "t1" || got[1].ID != "t2" {
		t.Fatalf("restored tokens %+v", got)
	}
	if sc, ok := r.TokenScopes(strings.Repeat("b", 64)); !ok || sc[0] != "worker" {
		t.Fatalf("restored lookup %v %v", sc, ok)
	}
	if !bytes.Equal(snapshotBytes(t, r), snap) {
		t.Fatal("snapshot of the restored state differs")
	}
	// A header that promises more tokens than follow is corrupt.
	bad := bytes.Replace(snap, []byte(`"tokens":2`), []byte(`"tokens":3`), 1)
	if err := New(nil).Restore(nopCloser{bytes.NewReader(bad)}); err == nil {
		t.Fatal("restored a snapshot with a missing token")
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
