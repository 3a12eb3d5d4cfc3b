package cli

import (
	"crypto/tls"
	"crypto/x509"
	"os"

	"github.com/spf13/pflag"

	"github.com/crawlctl/crawlctl/pkg/internal/auth"
)

// security holds the authentication and TLS flags both daemons share.
type security struct {
	secretFile string
	insecure   bool
	tlsCert    string
	tlsKey     string
	secret     string // resolved
}

func (s *security) flags(f *pflag.FlagSet) {
	f.StringVar(&s.secretFile, "cluster-secret-file", "", "file holding the secret shared by the web servers and executors (mode 600); or set CRAWLCTL_CLUSTER_SECRET")
	f.BoolVar(&s.insecure, "insecure", false, "run without authentication: anyone who reaches the port may do anything (never in production)")
	f.StringVar(&s.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&s.tlsKey, "tls-key", "", "private key of --tls-cert (PEM)")
}

// secretEnv are the environment variables a daemon may read a secret from.
// It removes them from its own environment once its settings are read, so
// that nothing it starts inherits them (jobs never get a CRAWLCTL_ variable
// anyway: see runner.JobEnv).
var secretEnv = []string{"CRAWLCTL_DB", "CRAWLCTL_CLUSTER_SECRET", "CRAWLCTL_TOKEN"}

func forgetSecretEnv() {
	for _, name := range secretEnv {
		os.Unsetenv(name)
	}
}

// jobEnvPassFlag is the --job-env-pass flag of the daemons that run jobs.
func jobEnvPassFlag(f *pflag.FlagSet, pass *[]string) {
	f.StringSliceVar(pass, "job-env-pass", nil, "variables of this daemon's environment that jobs get besides PATH, HOME, USER, LOGNAME, LANG, LC_*, TZ and TMPDIR, comma-separated, * as a wildcard (HTTP_PROXY,AWS_*); CRAWLCTL_ variables never reach a job")
}

// resolve loads the secret and refuses to go on without one unless --insecure.
func (s *security) resolve(daemon string) error {
	secret, err := auth.LoadSecret(s.secretFile, os.Getenv("CRAWLCTL_CLUSTER_SECRET"))
	if err != nil {
		return usageErr("%v", err)
	}
	s.secret = secret
	if s.secret == "" && !s.insecure {
		return usageErr("%s needs authentication configured: give --cluster-secret-file (or CRAWLCTL_CLUSTER_SECRET), the same on the web servers and executors, or --insecure to run open (never in production)", daemon)
	}
	if (s.tlsCert == "") != (s.tlsKey == "") {
		return usageErr("--tls-cert and --tls-key go together")
	}
	if s.tlsCert != "" {
		if _, err := tls.LoadX509KeyPair(s.tlsCert, s.tlsKey); err != nil {
			return usageErr("--tls-cert/--tls-key: %v", err)
		}
	}
	return nil
}

// caPool reads PEM certificates to trust, added to the system's.
func caPool(file string) (*tls.Config, error) {
	if file == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, usageErr("CA certificate: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usageErr("CA certificate %s holds no PEM certificate", file)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
