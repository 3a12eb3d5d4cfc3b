// Package alerttest holds the receivers alert tests send to: a real SMTP
// server (github.com/emersion/go-smtp: STARTTLS, implicit TLS, PLAIN auth)
// and an HTTP webhook receiver that can be made to fail. Only tests import
// it.
package alerttest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster/harness"
)

// Mail is one message the SMTP server accepted.
type Mail struct {
	From string
	To   []string
	Data []byte
	User string // who authenticated ("" for nobody)
	TLS  bool   // the session was encrypted
}

// SMTPOptions shape the server.
type SMTPOptions struct {
	// Host to listen on (default 127.0.0.1).
	Host string
	// TLS offers STARTTLS (or, with Implicit, speaks TLS from the start)
	// with a fresh self-signed certificate for localhost and 127.0.0.1.
	TLS, Implicit bool
	// User and Password, when set, are required (PLAIN); AllowInsecureAuth
	// accepts them without TLS.
	User, Password    string
	AllowInsecureAuth bool
}

// SMTPServer is a running SMTP server.
type SMTPServer struct {
	Host   string
	Port   int
	CAFile string // the certificate to trust (with TLS)
	Pool   *x509.CertPool
	srv    *smtp.Server
	o      SMTPOptions

	mu    sync.Mutex
	mails []Mail
	// reject makes every RCPT fail with a temporary error while set.
	reject bool
}

// StartSMTP starts a server that stops with the test.
func StartSMTP(t testing.TB, o SMTPOptions) *SMTPServer {
	t.Helper()
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	s := &SMTPServer{Host: o.Host, o: o}
	srv := smtp.NewServer(s)
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.AllowInsecureAuth = o.AllowInsecureAuth
	var ln net.Listener
	var err error
	if o.TLS {
		cert, key, err := harness.WriteSelfSignedCert(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		pemBytes, _ := os.ReadFile(cert)
		s.Pool = x509.NewCertPool()
		s.Pool.AppendCertsFromPEM(pemBytes)
		s.CAFile = cert
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{kp}}
	}
	if o.TLS && o.Implicit {
		ln, err = tls.Listen("tcp", net.JoinHostPort(o.Host, "0"), srv.TLSConfig)
	} else {
		ln, err = net.Listen("tcp", net.JoinHostPort(o.Host, "0"))
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	s.srv = srv
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Addr is host:port.
func (s *SMTPServer) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Mails returns what was accepted so far.
func (s *SMTPServer) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Reject makes the server refuse recipients (451) while on.
func (s *SMTPServer) Reject(on bool) {
	s.mu.Lock()
	s.reject = on
	s.mu.Unlock()
}

// NewSession is the go-smtp Backend.
func (s *SMTPServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, c: c}, nil
}

type session struct {
	s    *SMTPServer
	c    *smtp.Conn
	m    Mail
	user string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if ss.s.o.User == "" || username != ss.s.o.User || password != ss.s.o.Password {
			return errors.New("invalid credentials")
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.o.User != "" && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	ss.m = Mail{From: from}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	reject := ss.s.reject
	ss.s.mu.Unlock()
	if reject {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	ss.m.To = append(ss.m.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.m.Data, ss.m.User = b, ss.user
	_, ss.m.TLS = ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, ss.m)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.m = Mail{} }
func (ss *session) Logout() error { return nil }

// Hook is one webhook request received.
type Hook struct {
	Header http.Header
	Body   []byte
}

// Receiver is an HTTP webhook receiver.
type Receiver struct {
	URL  string
	srv  *httptest.Server
	mu   sync.Mutex
	got  []Hook
	fail int // answer this status instead of 200 while not 0
}

// StartReceiver starts a receiver that stops with the test.
func StartReceiver(t testing.TB) *Receiver {
	r := &Receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		fail := r.fail
		if fail == 0 {
			r.got = append(r.got, Hook{Header: req.Header.Clone(), Body: b})
		}
		r.mu.Unlock()
		if fail != 0 {
			http.Error(w, "receiver down for the test", fail)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(r.srv.Close)
	r.URL = r.srv.URL + "/hook"
	return r
}

// Fail makes the receiver answer status (0: accept again).
func (r *Receiver) Fail(status int) {
	r.mu.Lock()
	r.fail = status
	r.mu.Unlock()
}

// Hooks returns the requests accepted so far.
func (r *Receiver) Hooks() []Hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Hook(nil), r.got...)
}

// Wait polls cond until it holds or timeout passes.
func Wait(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Body returns a mail's decoded text body (quoted-printable) and headers.
func Body(m Mail) (headers string, body string) {
	h, b, ok := bytes.Cut(m.Data, []byte("\r\n\r\n"))
	if !ok {
		return string(m.Data), ""
	}
	return string(h), fmt.Sprint(string(decodeQP(b)))
}
