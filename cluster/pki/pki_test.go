package pki

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/big"
	"net/url"
	"testing"
	"time"
)

func TestIssuedRoles(t *testing.T) {
	ca, err := NewCA("ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, role := range Roles {
		certPEM, keyPEM, err := ca.Issue(role, "n", []string{"127.0.0.1", "m1.example"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(pair.Certificate[0])
		if got, err := CertRole(leaf); err != nil || got != role {
			t.Fatalf("role %q %v, want %q", got, err, role)
		}
		cs := tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
		err = VerifyPeer(cs, roots, x509.ExtKeyUsageServerAuth, RoleServer)
		if role == RoleServer && err != nil {
			t.Fatalf("server refused: %v", err)
		}
		if role != RoleServer && err == nil {
			t.Fatalf("%s accepted as a server", role)
		}
	}
}

// TestRoleCheckedBeyondKeyUsage: a worker certificate that (misissued)
// also has the server usage is still refused as a Raft peer.
func TestRoleCheckedBeyondKeyUsage(t *testing.T) {
	ca, err := NewCA("ca", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, uris := range [][]*url.URL{{RoleURI(RoleWorker)}, nil, {RoleURI(RoleServer), RoleURI(RoleWorker)}} {
		tmpl := &x509.Certificate{
			SerialNumber: mustSerial(t), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			URIs:        uris,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, ca.Key.Public(), ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		err = VerifyPeer(tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}, roots, x509.ExtKeyUsageServerAuth, RoleServer)
		if !errors.Is(err, ErrWrongRole) {
			t.Fatalf("uris %v: %v, want ErrWrongRole", uris, err)
		}
	}
	if err := VerifyPeer(tls.ConnectionState{}, roots, x509.ExtKeyUsageServerAuth, RoleServer); !errors.Is(err, ErrNoCertificate) {
		t.Fatalf("no certificate: %v", err)
	}
}

func mustSerial(t *testing.T) *big.Int {
	s, err := newSerial()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
