package webserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/labels"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// AlertTester sends test alerts through the web server's channels (the
// alert package's Deliverer).
type AlertTester interface {
	Channels() []string
	Test(ctx context.Context, channel string, to []string) error
}

// setLabels changes an executor's labels (POST
// /api/v1/executors/{ref}/labels); the change is an executor event and
// holds until the executor restarts with its own --label flags.
func (s *Server) setLabels(w http.ResponseWriter, r *http.Request) {
	var req api.ExecutorLabelsRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad labels body: "+err.Error())
		return
	}
	if len(req.Set) == 0 && len(req.Remove) == 0 {
		writeError(w, http.StatusBadRequest, "no label to set or remove: give set {\"k\":\"v\"} and/or remove [\"k\"]")
		return
	}
	for k, v := range req.Set {
		if err := labels.CheckKey(k); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if strings.Contains(v, ",") {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad value %q of label %s: no commas", v, k))
			return
		}
	}
	e := s.resolve(w, r, r.PathValue("ref"))
	if e == nil {
		return
	}
	if _, err := s.store.SetExecutorLabels(r.Context(), e.ID, req.Set, req.Remove, actor(r)); err != nil {
		s.storeError(w, err)
		return
	}
	s.disp.ExecutorsChanged()
	s.disp.Wake() // a flow waiting for these labels may run now
	fresh, err := s.store.GetExecutor(r.Context(), e.ID)
	if err != nil {
		s.storeError(w, err)
		return
	}
	fresh.RunningFlows = e.RunningFlows
	writeJSON(w, http.StatusOK, s.view(fresh))
}

func wireAlert(a *store.Alert) api.Alert {
	return api.Alert{ID: a.ID, Kind: a.Kind, ExecutionID: a.ExecutionID, ExecutorID: a.ExecutorID, Status: a.Status, Message: a.Message,
		Attempts: a.Attempts, LastError: a.LastError, Channels: a.Done, NextTry: a.NextTry, CreatedAt: a.CreatedAt, FinishedAt: a.FinishedAt}
}

// listAlerts is GET /api/v1/alerts[?status=PENDING|SENT|FAILED].
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	page, ok := listPage(w, r)
	if !ok {
		return
	}
	f := store.AlertFilter{Status: r.URL.Query().Get("status"), Limit: page.Limit}
	switch strings.ToUpper(f.Status) {
	case "", store.AlertPending, store.AlertSent, store.AlertGaveUp:
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad status %q: use PENDING, SENT or FAILED", f.Status))
		return
	}
	if f.Before, ok = beforeCursor(w, page); !ok {
		return
	}
	list, err := s.store.ListAlerts(r.Context(), f)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeList(w, page, list, func(a *store.Alert) string { return idKey(a.ID) }, wireAlert)
}

// testAlert is POST /api/v1/alerts/test: a test message through one
// channel of this web server, sent at once.
func (s *Server) testAlert(w http.ResponseWriter, r *http.Request) {
	var req api.AlertTestRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad alert test body: "+err.Error())
		return
	}
	if s.cfg.Alerts == nil || len(s.cfg.Alerts.Channels()) == 0 {
		writeError(w, http.StatusBadRequest, "this web server has no alert channel: start it with --mail-host ... or --webhook-url ...")
		return
	}
	if req.Channel == "" {
		writeError(w, http.StatusBadRequest, "give a channel: "+strings.Join(s.cfg.Alerts.Channels(), ", "))
		return
	}
	res := api.AlertTestResult{Channel: req.Channel, OK: true}
	if err := s.cfg.Alerts.Test(r.Context(), req.Channel, req.To); err != nil {
		res.OK, res.Error = false, err.Error()
		writeJSON(w, http.StatusBadGateway, res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
