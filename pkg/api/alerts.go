package api

import "time"

// ExecutorLabelsRequest is the body of POST /api/v1/executors/{ref}/labels:
// labels to set and label keys to remove. The change holds until the
// executor restarts, when its own --label flags are written again.
type ExecutorLabelsRequest struct {
	Set    map[string]string `json:"set,omitempty"`
	Remove []string          `json:"remove,omitempty"`
}

// Alert is one alert of the outbox, as GET /api/v1/alerts shows it.
type Alert struct {
	ID int64 `json:"id"`
	// Kind is FAILED, KILLED or SUCCEEDED (an execution's end) or
	// EXECUTOR_LOST.
	Kind        string `json:"kind"`
	ExecutionID int64  `json:"execution_id,omitempty"`
	ExecutorID  int64  `json:"executor_id,omitempty"`
	// Status is PENDING (to send, or being retried), SENT or FAILED (gave
	// up; LastError says why).
	Status    string `json:"status"`
	Message   string `json:"message"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
	// Channels lists the channels that took it.
	Channels   []string   `json:"channels"`
	NextTry    time.Time  `json:"next_try"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// AlertTestRequest is the body of POST /api/v1/alerts/test.
type AlertTestRequest struct {
	// Channel is the channel's name (email, webhook) as GET
	// /api/v1/alerts/channels lists them.
	Channel string `json:"channel"`
	// To overrides an email channel's test recipients.
	To []string `json:"to,omitempty"`
}

// AlertTestResult is the reply of a test send.
type AlertTestResult struct {
	Channel string `json:"channel"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}
