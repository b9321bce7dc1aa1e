package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/shepherd/shepherd/cluster/pki"
)

const tlsUsage = `usage:
  shepherd tls ca   [--dir DIR] [--name NAME] [--days N]
  shepherd tls cert --role server|worker|client --name NAME [--hosts h1,ip2] [--dir DIR] [--days N]

ca writes DIR/ca.pem and DIR/ca-key.pem (keep the key offline in production).
cert signs DIR/NAME.pem and DIR/NAME-key.pem with that CA. A master needs a
server certificate listing every name and IP clients and peers dial; only
server certificates are accepted on the Raft transport.`

// runTLS creates a cluster CA and certificates for tests and small
// deployments.
func runTLS(_ context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "ca" && args[0] != "cert") {
		fmt.Fprintln(stderr, tlsUsage)
		return errors.New("usage: shepherd tls ca|cert")
	}
	fs := flagSet("tls "+args[0], stderr)
	dir := fs.String("dir", "certs", "directory of the CA and the certificates")
	days := fs.Int("days", 0, "validity in days (default 3650 for the CA, 365 for certificates)")
	name := fs.String("name", "", "CA name, or the certificate's name (and file name)")
	role := fs.String("role", "", "server, worker or client")
	hosts := fs.String("hosts", "", "comma-separated DNS names and IPs (server certificates)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	caCert, caKey := filepath.Join(*dir, "ca.pem"), filepath.Join(*dir, "ca-key.pem")
	if args[0] == "ca" {
		if _, err := os.Stat(caKey); err == nil {
			return fmt.Errorf("%s exists; refusing to replace the cluster CA", caKey)
		}
		n := *name
		if n == "" {
			n = "Shepherd cluster CA"
		}
		ca, err := pki.NewCA(n, validity(*days, 3650))
		if err != nil {
			return err
		}
		certPEM, keyPEM, err := ca.PEM()
		if err != nil {
			return err
		}
		if err := writePEM(caCert, certPEM, 0o644); err != nil {
			return err
		}
		if err := writePEM(caKey, keyPEM, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s and %s\n", caCert, caKey)
		return nil
	}
	if *name == "" || *role == "" {
		fmt.Fprintln(stderr, tlsUsage)
		return errors.New("--name and --role are required")
	}
	ca, err := pki.LoadCA(caCert, caKey)
	if err != nil {
		return fmt.Errorf("%w (run 'shepherd tls ca --dir %s' first)", err, *dir)
	}
	certPEM, keyPEM, err := ca.Issue(pki.Role(*role), *name, splitList(*hosts), validity(*days, 365))
	if err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(*dir, *name+".pem"), filepath.Join(*dir, *name+"-key.pem")
	if err := writePEM(certFile, certPEM, 0o644); err != nil {
		return err
	}
	if err := writePEM(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s (role %s)\n", certFile, keyFile, *role)
	return nil
}

func validity(days, def int) time.Duration {
	if days <= 0 {
		days = def
	}
	return time.Duration(days) * 24 * time.Hour
}

func writePEM(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
