package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// MutualTLS is a tls.Config for both ends of a connection between peers
// of role peerRole (the Raft transport: masters only): it presents cert,
// demands the peer's, and accepts the peer only if its certificate chains
// to roots, has the server usage and carries peerRole.
//
// Go's own verification is switched off (InsecureSkipVerify) because it
// would also check the peer's name against the dialed address, which for
// Raft is an IP:port that certificates need not list; VerifyConnection
// does the chain check itself, on both ends, for every handshake.
func MutualTLS(cert tls.Certificate, roots *x509.CertPool, peerRole Role) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{cert},
		ClientAuth:         tls.RequireAnyClientCert,
		InsecureSkipVerify: true, // verified in VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			return VerifyPeer(cs, roots, x509.ExtKeyUsageServerAuth, peerRole)
		},
	}
}

// LoadMutualTLS reads a server's certificate, key and the cluster CA and
// returns MutualTLS for server peers.
func LoadMutualTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: load certificate: %w", err)
	}
	roots, err := LoadPool(caFile)
	if err != nil {
		return nil, err
	}
	if err := checkRole(cert, RoleServer); err != nil {
		return nil, err
	}
	return MutualTLS(cert, roots, RoleServer), nil
}

// ServerTLS is the HTTPS configuration of a master: its certificate, TLS
// 1.2 or later. Clients authenticate with tokens, not certificates.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("pki: load certificate: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// ClientTLS verifies masters against the CA in caFile (empty: the system
// roots) and, when certFile is set, presents that certificate.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		roots, err := LoadPool(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = roots
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("pki: load certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// checkRole refuses to start a master with a certificate its peers would
// refuse anyway, with a clearer message.
func checkRole(cert tls.Certificate, want Role) error {
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("pki: parse certificate: %w", err)
	}
	got, err := CertRole(leaf)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w: this certificate is for a %s, a master needs a %s certificate", ErrWrongRole, got, want)
	}
	return nil
}
