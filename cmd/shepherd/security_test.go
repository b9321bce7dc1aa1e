package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/cluster/pki"
)

// makeCerts runs `shepherd tls` to create a CA and one certificate per
// role in dir.
func makeCerts(t *testing.T, dir string) {
	t.Helper()
	ctx := context.Background()
	steps := [][]string{
		{"tls", "ca", "--dir", dir},
		{"tls", "cert", "--dir", dir, "--role", "server", "--name", "server", "--hosts", "127.0.0.1,localhost"},
		{"tls", "cert", "--dir", dir, "--role", "worker", "--name", "worker"},
	}
	for _, args := range steps {
		if err := run(ctx, args, io.Discard, io.Discard); err != nil {
			t.Fatalf("shepherd %v: %v", args, err)
		}
	}
	if err := run(ctx, []string{"tls", "ca", "--dir", dir}, io.Discard, io.Discard); err == nil {
		t.Fatal("tls ca replaced an existing CA")
	}
}

const bootToken = "boot-token-for-tests"

// TestSecuredCluster: three masters with HTTPS, mutual TLS on Raft and a
// bootstrap token form a cluster (discovery and join go over HTTPS with
// the token); an operator creates scoped tokens; the API refuses what
// each token may not do; the event WebSocket checks token and origin and
// limits frames.
func TestSecuredCluster(t *testing.T) {
	dir := t.TempDir()
	makeCerts(t, dir)
	pem := func(n string) string { return filepath.Join(dir, n) }
	c := newLocalCluster(t, 3, func(cfg *masterConfig) {
		sec := &masterSecurity{cert: pem("server.pem"), key: pem("server-key.pem"), ca: pem("ca.pem"),
			bootstrapToken: bootToken, origins: "https://ops.example.com"}
		opts, err := sec.apply(&cfg.API, &cfg.Cluster, &cfg.Monitor)
		if err != nil {
			t.Fatal(err)
		}
		cfg.PeerClient = opts
		cfg.Monitor.ReadLimit = 512
	})
	c.leader(30 * time.Second)

	caCfg, err := pki.ClientTLS(pem("ca.pem"), "", "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	as := func(token string) *client.Client {
		return client.New(c.https, client.WithTLSConfig(caCfg), client.WithToken(token), client.WithRetryBudget(10*time.Second))
	}
	wantStatus := func(err error, status int) {
		t.Helper()
		var e *client.Error
		if !errors.As(err, &e) || e.Status != status {
			t.Fatalf("err = %v, want status %d", err, status)
		}
	}

	// Plain HTTP and unverified HTTPS do not get in (a client retries
	// transport errors until its context ends: keep that short).
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if _, err := client.New(c.https).ClusterStatus(short); err == nil {
		t.Fatal("plain HTTP answered")
	}
	if _, err := client.New(c.https, client.WithTLSConfig(&tls.Config{MinVersion: tls.VersionTLS12})).ClusterStatus(short); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("HTTPS without the CA: %v", err)
	}

	_, err = as("").ClusterStatus(ctx)
	wantStatus(err, http.StatusUnauthorized)
	admin := as(bootToken)
	st, err := admin.ClusterStatus(ctx)
	if err != nil || len(st.Servers) != 3 {
		t.Fatalf("status over HTTPS: %+v %v", st, err)
	}

	submitTok, err := admin.CreateToken(ctx, client.CreateTokenRequest{Name: "ci", Scopes: []string{"submit"}})
	if err != nil {
		t.Fatal(err)
	}
	readTok, err := admin.CreateToken(ctx, client.CreateTokenRequest{Name: "dash", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	submitter, reader := as(submitTok.Token), as(readTok.Token)
	task, _, err := submitter.Submit(ctx, client.SubmitRequest{Name: "echo"})
	if err != nil {
		t.Fatalf("submit with a submit token: %v", err)
	}
	// Tokens are replicated: every master knows them (reads are local).
	for _, h := range c.https {
		one := client.New([]string{h}, client.WithTLSConfig(caCfg), client.WithToken(readTok.Token), client.WithRetryBudget(0))
		waitFor(t, 10*time.Second, "the read token on "+h, func() bool {
			_, err := one.GetTask(ctx, task.ID)
			return err == nil
		})
	}
	_, err = submitter.GetTask(ctx, task.ID)
	wantStatus(err, http.StatusForbidden)
	_, _, err = reader.Submit(ctx, client.SubmitRequest{Name: "echo"})
	wantStatus(err, http.StatusForbidden)
	_, err = reader.CreateToken(ctx, client.CreateTokenRequest{Scopes: []string{"admin"}})
	wantStatus(err, http.StatusForbidden)
	list, err := admin.ListTokens(ctx)
	if err != nil || len(list.Tokens) != 2 {
		t.Fatalf("tokens: %+v %v", list, err)
	}

	// The events WebSocket: token at the handshake, origin allow-list,
	// read limit.
	wsURL := "wss://" + c.https[0] + "/v1/events"
	dialer := &websocket.Dialer{TLSClientConfig: caCfg, HandshakeTimeout: 10 * time.Second}
	dial := func(token, origin string) (*websocket.Conn, int) {
		t.Helper()
		h := http.Header{}
		if token != "" {
			h.Set("Authorization", "Bearer "+token)
		}
		if origin != "" {
			h.Set("Origin", origin)
		}
		conn, resp, err := dialer.DialContext(ctx, wsURL, h)
		if err != nil {
			if resp == nil {
				t.Fatalf("dial: %v", err)
			}
			return nil, resp.StatusCode
		}
		return conn, http.StatusSwitchingProtocols
	}
	if _, code := dial("", ""); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if _, code := dial(submitTok.Token, ""); code != http.StatusForbidden {
		t.Fatalf("submit token: %d", code)
	}
	if _, code := dial(readTok.Token, "https://evil.example.com"); code != http.StatusForbidden {
		t.Fatalf("forged origin: %d", code)
	}
	conn, code := dial(readTok.Token, "https://ops.example.com")
	if code != http.StatusSwitchingProtocols {
		t.Fatalf("allowed origin: %d", code)
	}
	// A frame over the read limit ends the connection with 1009.
	if err := conn.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 4096))); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code != websocket.CloseMessageTooBig {
				t.Fatalf("closed with %d, want 1009", ce.Code)
			}
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("an oversized frame did not end the connection")
			}
			break
		}
	}
	conn.Close()
	// Query token (browsers cannot set headers on a WebSocket).
	qconn, _, err := dialer.DialContext(ctx, wsURL+"?token="+readTok.Token, nil)
	if err != nil {
		t.Fatalf("query token: %v", err)
	}
	qconn.Close()

	// Revoked: refused on every master.
	if err := admin.RevokeToken(ctx, readTok.ID); err != nil {
		t.Fatal(err)
	}
	for _, h := range c.https {
		one := client.New([]string{h}, client.WithTLSConfig(caCfg), client.WithToken(readTok.Token), client.WithRetryBudget(0))
		waitFor(t, 10*time.Second, "revocation on "+h, func() bool {
			_, err := one.GetTask(ctx, task.ID)
			var e *client.Error
			return errors.As(err, &e) && e.Status == http.StatusUnauthorized
		})
	}
}

// TestMasterRefusesWorkerCertificate: a master started with a worker's
// certificate fails at once rather than being refused by its peers.
func TestMasterRefusesWorkerCertificate(t *testing.T) {
	dir := t.TempDir()
	makeCerts(t, dir)
	sec := &masterSecurity{cert: filepath.Join(dir, "worker.pem"), key: filepath.Join(dir, "worker-key.pem"), ca: filepath.Join(dir, "ca.pem")}
	var cfg masterConfig
	if _, err := sec.apply(&cfg.API, &cfg.Cluster, &cfg.Monitor); !errors.Is(err, pki.ErrWrongRole) {
		t.Fatalf("err = %v, want ErrWrongRole", err)
	}
}
