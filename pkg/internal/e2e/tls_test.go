package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

func TestTLSEverywhere(t *testing.T) {
	// The web server and the executor serve HTTPS with a certificate the
	// web server (--executor-ca-cert), the CLI (CRAWLCTL_CA_CERT) and the
	// cluster's client trust.
	c := testcluster.New(t, func(o *testcluster.Options) { o.TLS = true })
	web := c.StartWeb()
	c.StartExecutor("secure")
	if !strings.HasPrefix(c.Server(), "https://") {
		t.Fatalf("server %s, want https", c.Server())
	}
	c.MustCLI("executor", "activate", "secure")
	var list []struct {
		Name string `json:"name"`
		TLS  bool   `json:"tls"`
	}
	c.Read(&list, executors)
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
