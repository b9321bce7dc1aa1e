// Package pki issues and checks Shepherd's certificates: a cluster CA and
// leaf certificates that carry a role. It owns the role marker and the
// check every TLS peer applies; it knows nothing of Raft or HTTP.
//
// The role is a URI SAN "urn:shepherd:role:<role>". A master's Raft
// transport accepts only a peer whose certificate chains to the cluster CA
// AND carries the server role: a worker's or a CLI's certificate from the
// same CA is refused (the mistake of Consul CVE-2021-37219, where any
// certificate of the CA could speak RPC to the servers). Server
// certificates are also the masters' HTTPS certificates, so they carry the
// server and client extended key usages; worker and client certificates
// carry only the client usage.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Role is what a certificate's holder is in the cluster.
type Role string

const (
	RoleServer Role = "server" // a master: Raft peer and HTTPS server
	RoleWorker Role = "worker" // a worker agent (HTTPS client)
	RoleClient Role = "client" // the CLI or another API client
)

// Roles lists the roles a certificate may carry.
var Roles = []Role{RoleServer, RoleWorker, RoleClient}

const rolePrefix = "urn:shepherd:role:"

// Errors of the role check.
var (
	ErrNoCertificate = errors.New("pki: peer presented no certificate")
	ErrWrongRole     = errors.New("pki: peer certificate has the wrong role")
)

// RoleURI is the URI SAN that marks role.
func RoleURI(r Role) *url.URL {
	u, _ := url.Parse(rolePrefix + string(r))
	return u
}

// CertRole returns the one role cert carries; none or several is an error.
func CertRole(cert *x509.Certificate) (Role, error) {
	var found []Role
	for _, u := range cert.URIs {
		if s := u.String(); strings.HasPrefix(s, rolePrefix) {
			found = append(found, Role(strings.TrimPrefix(s, rolePrefix)))
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%w: want exactly one role, found %v", ErrWrongRole, found)
	}
	return found[0], nil
}

// VerifyPeer checks a TLS peer's chain against roots for usage and that
// its leaf carries role. It is meant for tls.Config.VerifyConnection with
// the built-in verification off, so it does the whole check itself.
func VerifyPeer(cs tls.ConnectionState, roots *x509.CertPool, usage x509.ExtKeyUsage, role Role) error {
	if len(cs.PeerCertificates) == 0 {
		return ErrNoCertificate
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return fmt.Errorf("pki: verify peer certificate: %w", err)
	}
	got, err := CertRole(leaf)
	if err != nil {
		return err
	}
	if got != role {
		return fmt.Errorf("%w: %q, want %q", ErrWrongRole, got, role)
	}
	return nil
}

// CA is a certificate authority that can issue leaf certificates.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA creates a self-signed CA valid for validity.
func NewCA(name string, validity time.Duration) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Shepherd"}},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue creates a key and a certificate for role, named name, valid for
// hosts (DNS names or IP addresses; servers need the addresses clients
// dial).
func (ca *CA) Issue(role Role, name string, hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if !validRole(role) {
		return nil, nil, fmt.Errorf("pki: unknown role %q", role)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"Shepherd"}, OrganizationalUnit: []string{string(role)}},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{RoleURI(role)},
	}
	if role == RoleServer {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: create certificate: %w", err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// PEM returns the CA's certificate and key in PEM.
func (ca *CA) PEM() (certPEM, keyPEM []byte, err error) {
	keyPEM, err = encodeKey(ca.Key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), keyPEM, nil
}

// LoadCA reads a CA written by PEM.
func LoadCA(certFile, keyFile string) (*CA, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: load CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, err
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !cert.IsCA {
		return nil, errors.New("pki: not a CA certificate and key")
	}
	return &CA{Cert: cert, Key: signer}, nil
}

// LoadPool reads a PEM file of CA certificates.
func LoadPool(caFile string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("pki: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("pki: %s holds no PEM certificate", caFile)
	}
	return pool, nil
}

func validRole(r Role) bool {
	for _, x := range Roles {
		if x == r {
			return true
		}
	}
	return false
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial: %w", err)
	}
	return s, nil
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
