package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A job's output is delivered in chunks: as soon as logFlushSize bytes are
// buffered, or logFlushDelay after the first byte not yet delivered, and at
// the end of the attempt.
const (
	logFlushSize  = 16 << 10
	logFlushDelay = 500 * time.Millisecond
)

// jobLog collects the output of one job attempt and delivers it to the
// Reporter and to the attempt's local log file. Write hands data to a single
// delivering goroutine and blocks while that goroutine is busy, so a Reporter
// slower than the job's output slows the job down (through the full pipe)
// instead of losing output.
type jobLog struct {
	r       *runner
	job     string
	attempt int
	file    *os.File
	ch      chan []byte
	done    chan struct{}
}

// openJobLog starts collecting the output of a job attempt. The caller must
// Close it.
func (r *runner) openJobLog(job string, attempt int) *jobLog {
	l := &jobLog{
		r:       r,
		job:     job,
		attempt: attempt,
		ch:      make(chan []byte),
		done:    make(chan struct{}),
	}
	if r.logDir != "" {
		name := strings.ReplaceAll(job, pathSep, ".") + "." + strconv.Itoa(attempt) + ".log"
		f, err := os.OpenFile(filepath.Join(r.logDir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			r.flowLog("cannot open log file of job %s: %v", job, err)
		} else {
			l.file = f
		}
	}
	go l.deliverLoop()
	return l
}

// Write queues a copy of p for delivery.
func (l *jobLog) Write(p []byte) (int, error) {
	if len(p) > 0 {
		l.ch <- bytes.Clone(p)
	}
	return len(p), nil
}

// Close delivers what is still buffered and waits for the delivery to end.
func (l *jobLog) Close() {
	close(l.ch)
	<-l.done
}

func (l *jobLog) deliverLoop() {
	defer close(l.done)
	var buf []byte
	timer := time.NewTimer(logFlushDelay)
	timer.Stop()
	defer timer.Stop()
	var due <-chan time.Time
	flush := func() {
		timer.Stop()
		due = nil
		if len(buf) > 0 {
			l.deliver(buf)
			buf = nil
		}
	}
	for {
		select {
		case p, ok := <-l.ch:
			if !ok {
				flush()
				if l.file != nil {
					l.file.Close()
				}
				return
			}
			if len(buf) == 0 {
				timer.Reset(logFlushDelay)
				due = timer.C
			}
			buf = append(buf, p...)
			if len(buf) >= logFlushSize {
				flush()
			}
		case <-due:
			flush()
		}
	}
}

// deliver sends one chunk to the log file and the Reporter. The chunk is not
// reused afterwards, so the Reporter may keep it.
func (l *jobLog) deliver(chunk []byte) {
	if l.file != nil {
		if _, err := l.file.Write(chunk); err != nil {
			l.r.flowLog("cannot write log file of job %s, local copy stops here: %v", l.job, err)
			l.file.Close()
			l.file = nil
		}
	}
	err := l.r.call(func(ctx context.Context) error { return l.r.rep.Log(ctx, l.job, l.attempt, chunk) })
	if err != nil {
		l.r.flowLog("cannot deliver %d bytes of output of job %s: %v", len(chunk), l.job, err)
	}
}
