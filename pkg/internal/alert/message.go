package alert

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Message is a rendered alert: what the webhook posts as JSON (the
// documented body; see README "Alerts") and what an email says.
type Message struct {
	AlertID int64 `json:"alert_id"`
	// Kind is FAILED, KILLED, SUCCEEDED, EXECUTOR_LOST or TEST.
	Kind        string      `json:"kind"`
	Subject     string      `json:"subject"`
	Project     string      `json:"project,omitempty"`
	Flow        string      `json:"flow,omitempty"`
	ExecutionID int64       `json:"execution_id,omitempty"`
	Status      string      `json:"status,omitempty"`
	Executor    string      `json:"executor,omitempty"`
	ExecutorAdr string      `json:"executor_addr,omitempty"`
	SubmitUser  string      `json:"submit_user,omitempty"`
	SubmitTime  *time.Time  `json:"submit_time,omitempty"`
	StartTime   *time.Time  `json:"start_time,omitempty"`
	EndTime     *time.Time  `json:"end_time,omitempty"`
	Error       string      `json:"error,omitempty"`
	FailedJobs  []FailedJob `json:"failed_jobs"`
	// URL is the execution's page on the web server (empty without
	// --external-url).
	URL string `json:"url,omitempty"`
	// Text is the plain-text body an email carries.
	Text string `json:"text"`
	// To are the email recipients (not part of the webhook body).
	To []string `json:"-"`
}

// FailedJob is a job that failed, with the tail of its log.
type FailedJob struct {
	Name     string `json:"name"`
	ExitCode *int   `json:"exit_code"`
	Error    string `json:"error,omitempty"`
	LogTail  string `json:"log_tail"`
}

// render builds a's message from the database.
func (d *Deliverer) render(ctx context.Context, a *store.Alert) (*Message, error) {
	if a.Kind == store.AlertExecutorLost {
		return d.renderLost(ctx, a)
	}
	ex, err := d.st.GetExecution(ctx, a.ExecutionID)
	if err != nil {
		return nil, err
	}
	m := &Message{AlertID: a.ID, Kind: a.Kind, Project: ex.Project, Flow: ex.Flow, ExecutionID: ex.ID, Status: ex.Status,
		Executor: ex.ExecutorName, ExecutorAdr: ex.ExecutorAddr, SubmitUser: ex.SubmitUser, SubmitTime: &ex.SubmitTime,
		StartTime: ex.StartTime, EndTime: ex.EndTime, Error: ex.Error, FailedJobs: []FailedJob{}, URL: d.link(ex.ID)}
	switch ex.Status {
	case store.ExecSucceeded:
		m.To = ex.Alerts.SuccessEmails
	default:
		m.To = ex.Alerts.FailureEmails
	}
	m.To = append(append([]string{}, m.To...), d.cfg.Mail.To...)
	where := ""
	if ex.ExecutorName != "" {
		where = " on " + ex.ExecutorName
	}
	m.Subject = fmt.Sprintf("Flow '%s' of project %s %s%s (execution %d)", ex.Flow, ex.Project, ex.Status, where, ex.ID)
	for _, j := range ex.Jobs {
		if j.Status != "FAILED" {
			continue
		}
		tail, err := d.st.LogTail(ctx, ex.ID, j.Name, 64<<10)
		if err != nil {
			return nil, err
		}
		m.FailedJobs = append(m.FailedJobs, FailedJob{Name: j.Name, ExitCode: j.ExitCode, Error: j.Error, LogTail: lastLines(tail, d.cfg.LogLines)})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s.\n\n", m.Subject)
	fmt.Fprintf(&b, "Project:   %s\nFlow:      %s\nExecution: %d\nStatus:    %s\n", ex.Project, ex.Flow, ex.ID, ex.Status)
	if ex.ExecutorName != "" {
		fmt.Fprintf(&b, "Executor:  %s (%s)\n", ex.ExecutorName, ex.ExecutorAddr)
	}
	fmt.Fprintf(&b, "Submitted: %s by %s\n", stamp(&ex.SubmitTime), ex.SubmitUser)
	fmt.Fprintf(&b, "Started:   %s\nEnded:     %s", stamp(ex.StartTime), stamp(ex.EndTime))
	if ex.StartTime != nil && ex.EndTime != nil {
		fmt.Fprintf(&b, " (took %s)", ex.EndTime.Sub(*ex.StartTime).Round(time.Millisecond))
	}
	b.WriteString("\n")
	if ex.Error != "" {
		fmt.Fprintf(&b, "Error:     %s\n", ex.Error)
	}
	for _, j := range m.FailedJobs {
		code := "none"
		if j.ExitCode != nil {
			code = strconv.Itoa(*j.ExitCode)
		}
		fmt.Fprintf(&b, "\nFailed job: %s (exit code %s)\n", j.Name, code)
		if j.Error != "" {
			fmt.Fprintf(&b, "Error:      %s\n", j.Error)
		}
		fmt.Fprintf(&b, "Last %d lines of its log:\n", d.cfg.LogLines)
		for _, l := range strings.Split(strings.TrimRight(j.LogTail, "\n"), "\n") {
			fmt.Fprintf(&b, "  | %s\n", l)
		}
		fmt.Fprintf(&b, "Whole log:  crawlctl exec logs %d --job %s\n", ex.ID, j.Name)
	}
	fmt.Fprintf(&b, "\nDetails:   crawlctl exec show %d\n", ex.ID)
	if m.URL != "" {
		fmt.Fprintf(&b, "Page:      %s\n", m.URL)
	}
	m.Text = b.String()
	return m, nil
}

func (d *Deliverer) renderLost(ctx context.Context, a *store.Alert) (*Message, error) {
	m := &Message{AlertID: a.ID, Kind: a.Kind, Error: a.Message, FailedJobs: []FailedJob{}, To: d.cfg.Mail.To}
	name := fmt.Sprintf("executor %d", a.ExecutorID)
	if e, err := d.st.GetExecutor(ctx, a.ExecutorID); err == nil {
		m.Executor, m.ExecutorAdr = e.Name, e.Addr()
		name = fmt.Sprintf("%s (%s)", e.Name, e.Addr())
	}
	m.Subject = fmt.Sprintf("Executor %s is lost", name)
	m.Text = fmt.Sprintf("%s.\n\n%s\n\nThe flows it was running, if any, were failed or re-queued; each failed one has its own alert.\nNo flow is given to it until it heartbeats again (restart it, or `crawlctl executor deactivate %d`).\nSee `crawlctl executor show %d` and `crawlctl exec list --status FAILED`.\n",
		m.Subject, a.Message, a.ExecutorID, a.ExecutorID)
	return m, nil
}

func testMessage(base string, to []string) *Message {
	now := time.Now().UTC()
	m := &Message{Kind: "TEST", Subject: "crawlctl test alert", EndTime: &now, FailedJobs: []FailedJob{}, To: to, URL: base}
	m.Text = "This is a test alert from crawlctl (`crawlctl alert test`): this channel works.\n"
	return m
}

func (d *Deliverer) link(id int64) string {
	if d.cfg.ExternalURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/ui/executions/%d", d.cfg.ExternalURL, id)
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// lastLines returns the last n lines of b (a cut first line is dropped).
func lastLines(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.ToValidUTF8(string(bytes.Join(lines, []byte("\n"))), "?")
}
