package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crawlctl test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestTLSEverywhere(t *testing.T) {
	cert, key := writeCert(t)
	c := testcluster.New(t, testcluster.Options{})
	t.Setenv("CRAWLCTL_CA_CERT", cert) // the CLI, and the readiness probe below
	web := c.StartWebTLS(cert, key, "--executor-ca-cert", cert)
	c.StartExecutor("secure", "--tls-cert", cert, "--tls-key", key)
	c.MustCLI("executor", "activate", "secure")
	var list []struct {
		Name string `json:"name"`
		TLS  bool   `json:"tls"`
	}
	c.JSON(&list, "executor", "list")
	if len(list) != 1 || !list[0].TLS {
		t.Fatalf("executor list: %+v", list)
	}
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("echo over tls")}), "--name", "p")
	id := submit(t, c, "p", "one")
	waitStatus(t, c, id, 30*time.Second, "SUCCEEDED")
	// Without the CA the CLI refuses the server's certificate.
	r := c.CLIEnv([]string{"CRAWLCTL_CA_CERT="}, "executor", "list")
	if r.Code != 3 || !strings.Contains(r.Stderr, "certificate") {
		t.Fatalf("without the CA: %+v", r)
	}
	if !strings.Contains(web.Log.String(), `"tls":true`) {
		t.Fatal("the web server did not say it serves TLS")
	}
}
