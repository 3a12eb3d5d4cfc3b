// Package api holds the wire types of crawlctl's REST API (/api/v1): what
// the web server sends and accepts, field by field, and nothing else. The
// Go client (pkg/client) speaks in these types; they import nothing of the
// server, so a program using the client compiles no database driver.
//
// Times are RFC 3339 with nanoseconds (Go's time.Time encoding); a null
// time means "not yet". Lists are JSON arrays; a list cut short by its
// limit says where to go on in the X-Next-Cursor response header (see
// Page).
package api

import "time"

// Execution statuses, in the order an execution meets them.
const (
	StatusQueued      = "QUEUED"
	StatusDispatching = "DISPATCHING"
	StatusRunning     = "RUNNING"
	StatusKilling     = "KILLING"
	StatusSucceeded   = "SUCCEEDED"
	StatusFailed      = "FAILED"
	StatusKilled      = "KILLED"
)

// Ended reports whether status is final.
func Ended(status string) bool {
	return status == StatusSucceeded || status == StatusFailed || status == StatusKilled
}

// Execution is one run of a flow (GET /api/v1/executions/{id}).
type Execution struct {
	// ID is the execution id, unique in the cluster.
	ID int64 `json:"id"`
	// ProjectID, Project and Version name the project version that runs.
	ProjectID int64  `json:"project_id"`
	Project   string `json:"project"`
	Version   int    `json:"version"`
	// Flow is the flow's name in the project.
	Flow string `json:"flow"`
	// Status is one of the Status constants.
	Status string `json:"status"`
	// ExecutorID and ExecutorName are the executor it was last given to
	// (null and "" while it has never been dispatched).
	ExecutorID   *int64 `json:"executor_id"`
	ExecutorName string `json:"executor_name"`
	// ExecutorAddr is that executor's host:port, when known.
	ExecutorAddr string `json:"executor_addr,omitempty"`
	// PinnedExecutorID is the executor the submitter pinned it to
	// (--executor), if any: it runs there or nowhere.
	PinnedExecutorID *int64 `json:"pinned_executor_id,omitempty"`
	// Selector is the labels its executor must have (the flow's
	// executor.labels and the submit's selector), e.g. {"region":"eu"}.
	Selector map[string]string `json:"selector,omitempty"`
	// Attempt is how many times the flow has started: 0 before it starts,
	// 1 for a flow that ran once, more after flow retries or a lost executor.
	Attempt int `json:"attempt"`
	// DispatchFailures counts the executors that refused it or could not be
	// reached; the execution fails after too many.
	DispatchFailures int `json:"dispatch_failures"`
	// FlowRetries is how many times the whole flow may be re-run on failure.
	FlowRetries int `json:"flow_retries"`
	// Params are the parameters given at submit (--param k=v).
	Params map[string]string `json:"params"`
	// Priority orders the queue: higher first.
	Priority int `json:"priority"`
	// Concurrent is skip, ignore or queue: what happens when the same flow
	// is already running.
	Concurrent string `json:"concurrent"`
	// FailureAction is finish-current, cancel-all or finish-possible.
	FailureAction string `json:"failure_action"`
	// SubmitUser is who submitted it (a user, or schedule:ID).
	SubmitUser string    `json:"submit_user"`
	SubmitTime time.Time `json:"submit_time"`
	// DispatchedTime, StartTime and EndTime are null until they happen.
	DispatchedTime *time.Time `json:"dispatched_time"`
	StartTime      *time.Time `json:"start_time"`
	EndTime        *time.Time `json:"end_time"`
	// WaitReason says why a QUEUED execution waits.
	WaitReason string `json:"wait_reason,omitempty"`
	// Error says why it failed, when it did.
	Error string `json:"error"`
	// KillReason says who or what killed it.
	KillReason string `json:"kill_reason,omitempty"`
	// ScheduleID and ScheduledTime are set when a schedule fired it.
	ScheduleID    *int64     `json:"schedule_id,omitempty"`
	ScheduledTime *time.Time `json:"scheduled_time,omitempty"`
	// Paused is true while the execution is paused (exec pause): its
	// running jobs go on, no job starts until it is resumed. Its Status
	// stays RUNNING.
	Paused bool `json:"paused"`
	// Disabled are the job paths disabled at submit: they end SKIPPED
	// instead of running, and their dependants run as after a success.
	Disabled []string `json:"disabled"`
	// SuccessEmails and FailureEmails are who to tell when it succeeds or
	// fails, NotifyFailureFirst/Last when (at the first failed job, or when
	// the execution ends). They are stored and shown; crawlctl sends no
	// mail itself.
	SuccessEmails      []string `json:"success_emails"`
	FailureEmails      []string `json:"failure_emails"`
	NotifyFailureFirst bool     `json:"notify_failure_first"`
	NotifyFailureLast  bool     `json:"notify_failure_last"`
	// RetryOf is the execution this one retries (exec retry), if any.
	RetryOf *int64 `json:"retry_of,omitempty"`
	// Reused are the jobs of a --failed-only retry that succeeded in the
	// retried execution: they do not run again (they end SKIPPED) and their
	// output properties are handed to the jobs that do.
	Reused []string `json:"reused,omitempty"`
	// Jobs are the jobs of its current run, with their states; empty in
	// lists.
	Jobs []ExecutionJob `json:"jobs"`
}

// Ended reports whether the execution reached a final status.
func (e *Execution) Ended() bool { return Ended(e.Status) }

// ExecutionJob is one job of an execution's current run.
type ExecutionJob struct {
	// Name is the job's path in the flow (embedded flows as a:b).
	Name string `json:"name"`
	// Type is the job type (command, noop, flow, ...).
	Type string `json:"type"`
	// Status is READY, RUNNING, SUCCEEDED, FAILED, KILLED, SKIPPED, CANCELLED.
	Status string `json:"status"`
	// Attempt counts the job's tries from 1.
	Attempt   int        `json:"attempt"`
	StartTime *time.Time `json:"start_time"`
	EndTime   *time.Time `json:"end_time"`
	// ExitCode is the command's exit status, when it exited.
	ExitCode *int   `json:"exit_code"`
	Error    string `json:"error,omitempty"`
}

// SubmitRequest is the body of POST /api/v1/executions.
type SubmitRequest struct {
	Project string            `json:"project"`
	Flow    string            `json:"flow"`
	Params  map[string]string `json:"params"`
	// Executor pins the execution to this executor (id, host:port, name).
	Executor string `json:"executor"`
	// AllExecutors submits one execution per active online executor.
	AllExecutors bool `json:"all_executors"`
	// Concurrent is skip, ignore (default) or queue.
	Concurrent    string `json:"concurrent"`
	Priority      int    `json:"priority"`
	FailureAction string `json:"failure_action"`
	RunOptions
	// Selector requires executor labels: {"region":"eu"} runs only on
	// executors labelled region=eu. It adds to (and for a key given in
	// both, wins over) the flow's executor.labels config. With
	// AllExecutors it narrows the broadcast to the matching executors.
	Selector map[string]string `json:"selector,omitempty"`
}

// RunOptions are the disabled jobs and notification settings of a run,
// given at submit (SubmitRequest) or by a schedule (ScheduleRequest); their
// fields sit at the top level of those bodies.
type RunOptions struct {
	// Disabled names jobs (by path: "job", or "embedded:job" inside an
	// embedded flow) that do not run: they end SKIPPED and their
	// dependants run as after a success. An unknown job is a 400.
	Disabled []string `json:"disabled,omitempty"`
	// SuccessEmails and FailureEmails are mailed when the run ends (see
	// the web server's --mail-* settings) and shown; NotifyFailureFirst and
	// NotifyFailureLast say when a failure should be told. An entry that
	// is not one address is a 400.
	SuccessEmails      []string `json:"success_emails,omitempty"`
	FailureEmails      []string `json:"failure_emails,omitempty"`
	NotifyFailureFirst bool     `json:"notify_failure_first,omitempty"`
	NotifyFailureLast  bool     `json:"notify_failure_last,omitempty"`
}

// RetryRequest is the body of POST /api/v1/executions/{id}/retry, which
// runs a FAILED or KILLED execution again as a new execution (same project
// version, flow, parameters and options; the original is not changed).
type RetryRequest struct {
	// FailedOnly reuses the jobs that succeeded in the original: they do
	// not run again (they end SKIPPED, "succeeded in execution N") and
	// their output properties reach the jobs that run. Without it, every
	// job runs again.
	FailedOnly bool `json:"failed_only"`
}

// SubmitResult is the reply of a submit: the executions created.
type SubmitResult struct {
	Executions []*Execution `json:"executions"`
}

// SkippedResult is the 409 reply of a --concurrent skip submit whose flow
// is already queued or running.
type SkippedResult struct {
	Error            string `json:"error"`
	Skipped          bool   `json:"skipped"`
	RunningExecution int64  `json:"running_execution_id"`
}

// LogChunk is the reply of GET /api/v1/executions/{id}/logs.
type LogChunk struct {
	// Job is the job whose log this is ("" for the flow's own log).
	Job string `json:"job"`
	// Offset is where Data starts; NextOffset where to ask next.
	Offset int64  `json:"offset"`
	Next   int64  `json:"next_offset"`
	Data   string `json:"data"`
	// Ended is true when the execution has ended: no more will come once
	// Data is empty.
	Ended bool `json:"ended"`
}

// Executor is an executor as GET /api/v1/executors shows it.
type Executor struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Active bool   `json:"active"`
	// Status is online, offline or stopped, by its heartbeat's age.
	Status string `json:"status"`
	// RunningFlows counts the executions holding a slot on it.
	RunningFlows   int               `json:"running_flows"`
	MaxFlows       int               `json:"max_flows"`
	LastHeartbeat  *time.Time        `json:"last_heartbeat"`
	HeartbeatAgeMs int64             `json:"heartbeat_age_ms"`
	ClockSkewMs    int64             `json:"clock_skew_ms"`
	Version        string            `json:"version"`
	Labels         map[string]string `json:"labels"`
	StartedAt      *time.Time        `json:"started_at"`
	StoppedAt      *time.Time        `json:"stopped_at"`
	Load1          float64           `json:"load1"`
	TLS            bool              `json:"tls"`
	// StatusNote qualifies Status: "secret mismatch" while the executor
	// refuses the web servers' cluster secret (SecretRefused says why); it
	// is offered no work meanwhile.
	StatusNote    string `json:"status_note,omitempty"`
	SecretRefused string `json:"secret_refused,omitempty"`
	// Events are its recent registry events (GET of one executor only).
	Events []ExecutorEvent `json:"events,omitempty"`
}

// ExecutorEvent is one registry event of an executor (registered,
// activated, deactivated, lost, ...).
type ExecutorEvent struct {
	ID         int64     `json:"id"`
	ExecutorID int64     `json:"executor_id"`
	Type       string    `json:"type"`
	Actor      string    `json:"actor"`
	Message    string    `json:"message"`
	Time       time.Time `json:"time"`
}

// UploadResult is the reply of POST /api/v1/projects/{name}.
type UploadResult struct {
	Project string `json:"project"`
	Version int    `json:"version"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	// Format is flow20 or legacy (.job files).
	Format string   `json:"format"`
	Flows  []string `json:"flows"`
}

// Project is a project with its latest version's flows and, for GET of one
// project, its versions.
type Project struct {
	ID            int64            `json:"id"`
	Name          string           `json:"name"`
	LatestVersion int              `json:"latest_version"`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	Flows         []string         `json:"flows"`
	Versions      []ProjectVersion `json:"versions,omitempty"`
}

// ProjectVersion is one uploaded archive of a project.
type ProjectVersion struct {
	Project    string    `json:"project"`
	Version    int       `json:"version"`
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	Format     string    `json:"format"`
	UploadedBy string    `json:"uploaded_by"`
	CreatedAt  time.Time `json:"created_at"`
}

// FlowSummary is one flow of a project's latest version.
type FlowSummary struct {
	Name    string `json:"name"`
	Jobs    int    `json:"jobs"`
	Version int    `json:"version"`
}

// ScheduleRequest is the body of POST /api/v1/schedules.
type ScheduleRequest struct {
	Project string `json:"project"`
	Flow    string `json:"flow"`
	// Cron is a Quartz (6-7 fields) or classic 5-field expression.
	Cron string `json:"cron"`
	// TimeZone is an IANA name; "" means the web server's zone.
	TimeZone string            `json:"time_zone"`
	Params   map[string]string `json:"params"`
	// Concurrent defaults to skip for schedules.
	Concurrent string `json:"concurrent"`
	// Misfire is fire-once (default) or skip.
	Misfire string `json:"misfire"`
	// FailureAction ("" = finishCurrent) and the RunOptions are given to
	// every run it submits, as in SubmitRequest.
	FailureAction string `json:"failure_action,omitempty"`
	RunOptions
	// Selector requires executor labels of every run (see SubmitRequest).
	Selector map[string]string `json:"selector,omitempty"`
}

// Schedule is a cron schedule of a flow.
type Schedule struct {
	ID         int64             `json:"id"`
	Project    string            `json:"project"`
	Flow       string            `json:"flow"`
	Cron       string            `json:"cron"`
	TimeZone   string            `json:"time_zone"`
	Params     map[string]string `json:"params"`
	Concurrent string            `json:"concurrent"`
	Misfire    string            `json:"misfire"`
	Paused     bool              `json:"paused"`
	NextFire   *time.Time        `json:"next_fire"`
	LastFire   *time.Time        `json:"last_fire"`
	// LastExecutionID is the execution its last fire submitted.
	LastExecutionID *int64 `json:"last_execution_id"`
	// LastStatus is what its last fire did (submitted, skipped, error: ...).
	LastStatus   string    `json:"last_status"`
	FiredCount   int64     `json:"fired_count"`
	SkippedCount int64     `json:"skipped_count"`
	Owner        string    `json:"owner"`
	CreatedAt    time.Time `json:"created_at"`
	// NextFires are the next fire times in the schedule's zone (none while
	// paused).
	NextFires []time.Time `json:"next_fires"`
	// LastExecutionStatus is the status of LastExecutionID.
	LastExecutionStatus string `json:"last_execution_status,omitempty"`
	// FailureAction ("" = finishCurrent), Disabled and the e-mail settings
	// are given to every run it submits.
	FailureAction      string   `json:"failure_action,omitempty"`
	Disabled           []string `json:"disabled"`
	SuccessEmails      []string `json:"success_emails"`
	FailureEmails      []string `json:"failure_emails"`
	NotifyFailureFirst bool     `json:"notify_failure_first"`
	NotifyFailureLast  bool     `json:"notify_failure_last"`
	// Selector is the executor labels its runs require.
	Selector map[string]string `json:"selector,omitempty"`
}

// LoginRequest is the body of POST /api/v1/login.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	// ExpiresIn is a Go duration; default 720h.
	ExpiresIn string `json:"expires_in"`
	// Name names the token created (default "login from HOST").
	Name string `json:"name,omitempty"`
}

// UserRequest is the body of POST /api/v1/users.
type UserRequest struct {
	Name string `json:"name"`
	// Role is viewer, operator or admin.
	Role     string `json:"role"`
	Password string `json:"password"`
}

// User is a user account (never its password).
type User struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// TokenRequest is the body of POST /api/v1/tokens.
type TokenRequest struct {
	Name string `json:"name"`
	// ExpiresIn is a Go duration or "never" (default).
	ExpiresIn string `json:"expires_in"`
	// User, for admins, creates the token for another user.
	User string `json:"user"`
}

// Token is an API token (never its secret, only its first characters).
type Token struct {
	ID        int64      `json:"id"`
	User      string     `json:"user"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// TokenResult is the reply of a login or token creation: the secret, shown
// once, and the token's record.
type TokenResult struct {
	Secret string `json:"token"`
	Token
}

// Error is the body of every error reply.
type Error struct {
	Error string `json:"error"`
	// Candidates are the executors an ambiguous reference matched.
	Candidates []string `json:"candidates,omitempty"`
}

// MaxWait bounds the long poll of GET /api/v1/executions/{id}?wait=&status=.
const MaxWait = time.Minute

// Paging of list endpoints: ?limit=N (default DefaultLimit, at most
// MaxLimit; more is refused with 400) and ?cursor=C, where C is the
// X-Next-Cursor header of the previous page. No header: the last page.
const (
	DefaultLimit     = 100
	MaxLimit         = 1000
	NextCursorHeader = "X-Next-Cursor"
)
