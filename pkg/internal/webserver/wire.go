package webserver

import (
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// The store's rows as the REST API shows them (pkg/api): only what a user
// may see, under the names the API documents.

func wireExecution(e *store.Execution) *api.Execution {
	if e == nil {
		return nil
	}
	out := &api.Execution{
		ID: e.ID, ProjectID: e.ProjectID, Project: e.Project, Version: e.Version, Flow: e.Flow, Status: e.Status,
		ExecutorID: e.ExecutorID, ExecutorName: e.ExecutorName, ExecutorAddr: e.ExecutorAddr, PinnedExecutorID: e.PinnedExecutorID,
		Attempt: e.Runs, DispatchFailures: e.DispatchFailures, FlowRetries: e.FlowRetries, Params: e.Params, Priority: e.Priority,
		Concurrent: e.Concurrent, FailureAction: e.FailureAction, SubmitUser: e.SubmitUser, SubmitTime: e.SubmitTime,
		DispatchedTime: e.DispatchedTime, StartTime: e.StartTime, EndTime: e.EndTime, WaitReason: e.WaitReason, Error: e.Error,
		KillReason: e.KillReason, ScheduleID: e.ScheduleID, ScheduledTime: e.ScheduledTime, Jobs: make([]api.ExecutionJob, 0, len(e.Jobs)),
		Paused: e.Paused, Disabled: nonNil(e.Disabled), SuccessEmails: nonNil(e.Alerts.SuccessEmails), FailureEmails: nonNil(e.Alerts.FailureEmails),
		NotifyFailureFirst: e.Alerts.NotifyFailureFirst, NotifyFailureLast: e.Alerts.NotifyFailureLast, RetryOf: e.RetryOf, Reused: e.Reused,
	}
	if len(e.Selector) > 0 {
		out.Selector = e.Selector
	}
	for _, j := range e.Jobs {
		out.Jobs = append(out.Jobs, api.ExecutionJob{Name: j.Name, Type: j.Type, Status: j.Status, Attempt: j.Try,
			StartTime: j.StartTime, EndTime: j.EndTime, ExitCode: j.ExitCode, Error: j.Error})
	}
	return out
}

// nonNil shows an empty list as [] rather than null.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func wireExecutions(list []*store.Execution) []*api.Execution {
	out := make([]*api.Execution, 0, len(list))
	for _, e := range list {
		out = append(out, wireExecution(e))
	}
	return out
}

func wireEvents(list []store.ExecutorEvent) []api.ExecutorEvent {
	var out []api.ExecutorEvent
	for _, ev := range list {
		out = append(out, api.ExecutorEvent{ID: ev.ID, ExecutorID: ev.ExecutorID, Type: ev.Type, Actor: ev.Actor, Message: ev.Message, Time: ev.Time})
	}
	return out
}

func wireProject(p store.Project, flows []string, versions []store.ProjectVersion) api.Project {
	out := api.Project{ID: p.ID, Name: p.Name, LatestVersion: p.LatestVersion, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Flows: flows}
	if out.Flows == nil {
		out.Flows = []string{}
	}
	for _, v := range versions {
		out.Versions = append(out.Versions, api.ProjectVersion{Project: v.Project, Version: v.Version, SHA256: v.SHA256, Size: v.Size,
			Format: v.Format, UploadedBy: v.UploadedBy, CreatedAt: v.CreatedAt})
	}
	return out
}

func wireUser(u store.User) api.User {
	return api.User{ID: u.ID, Name: u.Name, Role: u.Role, CreatedAt: u.CreatedAt}
}

func wireToken(t store.Token) api.Token {
	return api.Token{ID: t.ID, User: t.User, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt}
}

func wireSchedule(sc *store.Schedule) api.Schedule {
	return api.Schedule{ID: sc.ID, Project: sc.Project, Flow: sc.Flow, Cron: sc.Cron, TimeZone: sc.TimeZone, Params: sc.Params,
		Concurrent: sc.Concurrent, Misfire: sc.Misfire, Paused: sc.Paused, NextFire: sc.NextFire, LastFire: sc.LastFire,
		LastExecutionID: sc.LastExecutionID, LastStatus: sc.LastStatus, FiredCount: sc.FiredCount, SkippedCount: sc.SkippedCount,
		Owner: sc.Owner, CreatedAt: sc.CreatedAt, NextFires: []time.Time{}, LastExecutionStatus: sc.LastExecutionStatus,
		FailureAction: sc.Options.FailureAction, Disabled: nonNil(sc.Options.Disabled), SuccessEmails: nonNil(sc.Options.Alerts.SuccessEmails),
		FailureEmails: nonNil(sc.Options.Alerts.FailureEmails), NotifyFailureFirst: sc.Options.Alerts.NotifyFailureFirst, NotifyFailureLast: sc.Options.Alerts.NotifyFailureLast}
}
