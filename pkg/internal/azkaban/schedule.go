package azkaban

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/schedule"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

// schedule is Azkaban's ScheduleServlet (/schedule).
func (a *API) schedule(w http.ResponseWriter, r *request) {
	if r.has("ajax") {
		switch ajax := r.param("ajax"); ajax {
		case "scheduleCronFlow":
			a.scheduleCronFlow(w, r)
		case "fetchSchedule":
			a.fetchSchedule(w, r)
		default:
			unsupported(w, "/schedule", "ajax", ajax)
		}
		return
	}
	if r.Method == http.MethodPost {
		switch action := r.param("action"); action {
		case "scheduleCronFlow":
			a.scheduleCronFlow(w, r)
		case "removeSched":
			a.removeSched(w, r)
		default:
			unsupported(w, "/schedule", "action", action)
		}
		return
	}
	unsupported(w, "/schedule", "action", r.param("action"))
}

func (a *API) scheduleCronFlow(w http.ResponseWriter, r *request) {
	answer := func(msg string) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "error", "message": msg})
	}
	p, name, flowName, ok := a.namedFlow(w, r, "projectName")
	if !ok {
		return
	}
	if p == nil {
		answer("Project " + name + " does not exist")
		return
	}
	if !r.who.has(permSchedule) {
		answer("Permission denied. Cannot execute " + flowName)
		return
	}
	f, ok := a.latestFlow(w, r, name, flowName)
	if !ok {
		return
	}
	if f == nil {
		answer("Flow " + flowName + " cannot be found in project " + name)
		return
	}
	expr := r.param("cronExpression")
	if !r.has("cronExpression") {
		writeJSON(w, http.StatusOK, map[string]any{"error": "Cron expression must exist."})
		return
	}
	c, err := schedule.ParseCron(expr)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"error": "This expression <" + expr + "> can not be parsed to quartz cron."})
		return
	}
	if r.has("endSchedTime") {
		writeJSON(w, http.StatusOK, map[string]any{"error": "endSchedTime is not supported: crawlctl schedules run until removed or paused (remove it with action=removeSched)"})
		return
	}
	o, err := parseOptions(r, f)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"error": err.Error()})
		return
	}
	if o.useExecutor > 0 || o.priority != 0 {
		writeJSON(w, http.StatusOK, map[string]any{"error": "useExecutor and flowPriority are not supported on schedules; pass them to ajax=executeFlow"})
		return
	}
	// Validate the run exactly as a fire would submit it.
	if _, err := submission.Prepare(r.Context(), a.st, submission.Request{Project: name, Flow: flowName, Params: o.params, Concurrent: o.concurrent,
		FailureAction: o.failureAction, Disabled: o.disabled}); err != nil {
		var ie *submission.InputError
		if errors.As(err, &ie) {
			writeJSON(w, http.StatusOK, map[string]any{"error": ie.Msg})
			return
		}
		a.serverError(w, "schedule", err)
		return
	}
	zone := schedule.DefaultZone()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		a.serverError(w, "time zone", err)
		return
	}
	now, err := a.st.Now(r.Context())
	if err != nil {
		a.serverError(w, "read the clock", err)
		return
	}
	next := c.Next(now, loc)
	if next.IsZero() {
		writeJSON(w, http.StatusOK, map[string]any{"error": "This expression <" + expr + "> never fires after now."})
		return
	}
	sc, _, err := a.st.SetFlowSchedule(r.Context(), store.NewSchedule{Project: name, Flow: flowName, Cron: c.String(), TimeZone: zone, Params: o.params,
		Concurrent: o.concurrent, Misfire: schedule.MisfireFireOnce, Owner: r.who.User, NextFire: next,
		Options: store.ScheduleOptions{FailureAction: o.failureAction, Disabled: o.disabled, Alerts: o.alerts}})
	if err != nil {
		a.serverError(w, "schedule", err)
		return
	}
	a.log.Info().Str("project", name).Str("flow", flowName).Int64("schedule", sc.ID).Str("by", r.who.User).Msg("flow scheduled")
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "scheduleId": sc.ID, "message": name + "." + flowName + " scheduled."})
}

// azkabanTime is Azkaban's yyyy-MM-dd HH:mm:ss in the schedule's zone.
func azkabanTime(t *time.Time, zone string) string {
	if t == nil {
		return "null"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04:05")
}

func (a *API) fetchSchedule(w http.ResponseWriter, r *request) {
	pid, ok := r.requiredInt(w, "projectId")
	if !ok {
		return
	}
	flowName, ok := r.required(w, "flowId")
	if !ok {
		return
	}
	p, err := a.st.ProjectByID(r.Context(), pid)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	if err != nil {
		a.serverError(w, "read project", err)
		return
	}
	sc, err := a.st.FlowSchedule(r.Context(), p.Name, flowName)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	if err != nil {
		a.serverError(w, "read schedule", err)
		return
	}
	created := sc.CreatedAt
	writeJSON(w, http.StatusOK, map[string]any{"schedule": map[string]any{
		"scheduleId": strconv.FormatInt(sc.ID, 10), "submitUser": sc.Owner,
		"firstSchedTime": azkabanTime(&created, sc.TimeZone), "nextExecTime": azkabanTime(sc.NextFire, sc.TimeZone),
		"period": "null", "cronExpression": sc.Cron,
		"executionOptions": map[string]any{
			"flowParameters": sc.Params, "concurrentOption": sc.Concurrent, "failureAction": azkabanFailureAction(sc.Options.FailureAction),
			"disabledJobs": nonNil(sc.Options.Disabled), "successEmails": nonNil(sc.Options.Alerts.SuccessEmails), "failureEmails": nonNil(sc.Options.Alerts.FailureEmails),
			"notifyOnFirstFailure": sc.Options.Alerts.NotifyFailureFirst, "notifyOnLastFailure": sc.Options.Alerts.NotifyFailureLast,
		},
	}})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (a *API) removeSched(w http.ResponseWriter, r *request) {
	id, ok := r.requiredInt(w, "scheduleId")
	if !ok {
		return
	}
	answer := func(msg string) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "error", "message": msg})
	}
	sc, err := a.st.GetSchedule(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		answer(fmt.Sprintf("Schedule with ID %d does not exist", id))
		return
	}
	if err != nil {
		a.serverError(w, "read schedule", err)
		return
	}
	if !r.who.has(permSchedule) {
		answer(fmt.Sprintf("Permission denied. Cannot remove schedule with id %d", id))
		return
	}
	if err := a.st.DeleteSchedule(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		answer(fmt.Sprintf("Schedule with ID %d does not exist", id))
		return
	} else if err != nil {
		a.serverError(w, "remove schedule", err)
		return
	}
	a.log.Info().Int64("schedule", id).Str("by", r.who.User).Msg("schedule removed")
	writeJSON(w, http.StatusOK, map[string]any{"status": "success", "message": "flow " + sc.Flow + " removed from Schedules."})
}
