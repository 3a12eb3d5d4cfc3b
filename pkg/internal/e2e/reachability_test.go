package e2e

import (
	"bufio"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestRefusedNudgesAreNotRefusals: an executor whose advertised address
// refuses connections (it binds 127.0.0.1, advertises 127.0.0.2, where
// nothing listens) but whose heartbeat is fresh is not down: every flow
// dispatched to it stays DISPATCHING for its own poll, and runs there.
func TestRefusedNudgesAreNotRefusals(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	p := c.StartExecutor("natted", "--bind", "127.0.0.1", "--host", "127.0.0.2")
	port := strings.Split(p.Addr, ":")[1]
	conn, err := net.DialTimeout("tcp", "127.0.0.2:"+port, 5*time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("127.0.0.2:%s accepts connections; the test needs it to refuse them", port)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("connect to 127.0.0.2:%s: %v; want connection refused", port, err)
	}
	if e := waitExecutor(t, c, "natted", "registered at its advertised address", func(e executorJSON) bool { return e.Status == "online" }); e.Host != "127.0.0.2" {
		t.Fatalf("natted registered as %s:%d", e.Host, e.Port)
	}
	// The web server cannot tell it of its activation; the database can.
	c.MustCLI("executor", "activate", "natted")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")

	ids := submitMany(t, c, "p", "one", 24)
	got := waitAllEnded(t, c, ids, 90*time.Second, "SUCCEEDED")
	for _, id := range ids {
		if e := got[id]; e.ExecutorName != "natted" || e.Attempt != 1 || e.DispatchFailures != 0 {
			t.Errorf("execution %d: %s", id, toJSON(e))
		}
	}
}

// hangListener accepts connections on a listener and never answers, like
// an executor whose process hangs. It records each HTTP request's line and
// when the client gave up (closed the connection).
type hangListener struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	// opened, gaveUp count "execute" nudges.
	opened, gaveUp int
	other          int // any other request (refresh, ...)
}

func newHangListener(t *testing.T, ln net.Listener) *hangListener {
	h := &hangListener{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, conn)
			h.mu.Unlock()
			go h.serve(conn)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			c.Close()
		}
	})
	return h
}

func (h *hangListener) serve(conn net.Conn) {
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return
	}
	execute := strings.Contains(line, "action=execute")
	h.mu.Lock()
	if execute {
		h.opened++
	} else {
		h.other++
	}
	h.mu.Unlock()
	// Read (and ignore) until the client closes: then it gave up.
	buf := make([]byte, 4096)
	for {
		if _, err := r.Read(buf); err != nil {
			break
		}
	}
	if execute {
		h.mu.Lock()
		h.gaveUp++
		h.mu.Unlock()
	}
}

func (h *hangListener) counts() (opened, gaveUp int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.opened, h.gaveUp
}

// TestHungExecutorDoesNotHoldUpDispatch: next to a normal executor, one
// whose advertised address accepts connections but never answers (a hung
// process, a black-holing proxy) delays nothing but its own nudges: the
// flows assigned to the normal executor all end before the first nudge to
// the hung one has even timed out, and the hung one's flows run too,
// claimed by its own poll.
func TestHungExecutorDoesNotHoldUpDispatch(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	// The port number: free on 127.0.0.1 for the executor, and held on
	// 127.0.0.3 by the test.
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(hold.Addr().(*net.TCPAddr).Port)
	ln, err := net.Listen("tcp", "127.0.0.3:"+port)
	if err != nil {
		t.Fatal(err)
	}
	hold.Close()
	h := newHangListener(t, ln)
	c.StartExecutor("hung", "--bind", "127.0.0.1", "--host", "127.0.0.3", "--port", port)
	c.StartExecutor("ok")
	c.MustCLI("executor", "activate", "hung", "ok")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"one": oneJob("true")}), "--name", "p")

	ids := submitMany(t, c, "p", "one", 20)
	// Every flow assigned to ok ends while every nudge to hung is still
	// waiting for its answer (the dispatcher gives up on one after 5s): a
	// dispatcher that waited for those nudges could not get there.
	c.WaitFor(60*time.Second, "the flows assigned to ok to succeed", func() (bool, string) {
		_, gaveUpBefore := h.counts()
		list := listExecs(c)
		var waiting []string
		for _, id := range ids {
			e := list[id]
			switch {
			case e.ExecutorName == "":
				waiting = append(waiting, strconv.FormatInt(id, 10)+" unassigned "+e.Status)
			case e.ExecutorName == "ok" && e.Status != "SUCCEEDED":
				if e.ended() {
					t.Fatalf("execution %d on ok: %s", id, toJSON(e))
				}
				waiting = append(waiting, strconv.FormatInt(id, 10)+" "+e.Status)
			}
		}
		if len(waiting) > 0 {
			return false, strings.Join(waiting, "; ")
		}
		if gaveUpBefore > 0 {
			opened, _ := h.counts()
			t.Fatalf("the flows assigned to ok ended only after %d of %d nudges to the hung executor had timed out: dispatch waited for them (%v)",
				gaveUpBefore, opened, byExecutor(list, ids))
		}
		return true, ""
	})
	got := waitAllEnded(t, c, ids, 90*time.Second, "SUCCEEDED")
	counts := byExecutor(got, ids)
	opened, _ := h.counts()
	if counts["hung"] == 0 || counts["ok"] == 0 || opened == 0 {
		t.Fatalf("flows by executor %v, %d nudges reached the hung address: the test did not test a hung executor next to a normal one", counts, opened)
	}
	for _, id := range ids {
		if e := got[id]; e.Attempt != 1 {
			t.Errorf("execution %d: %s", id, toJSON(e))
		}
	}
	t.Logf("flows by executor %v; %d execute nudges reached the hung address", counts, opened)
}
