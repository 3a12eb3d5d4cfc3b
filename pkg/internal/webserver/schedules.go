package webserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/schedule"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

func scheduleView(sc *store.Schedule) api.Schedule {
	v := wireSchedule(sc)
	if len(sc.Options.Selector) > 0 {
		v.Selector = sc.Options.Selector
	}
	if c, err := schedule.ParseCron(sc.Cron); err == nil && !sc.Paused {
		if loc, err := time.LoadLocation(sc.TimeZone); err == nil {
			from := time.Now()
			if sc.NextFire != nil {
				// The stored next fire first, then the ones after it.
				v.NextFires = append(v.NextFires, sc.NextFire.In(loc))
				from = *sc.NextFire
			}
			v.NextFires = append(v.NextFires, c.NextN(from, loc, 3-len(v.NextFires))...)
		}
	}
	return v
}

func (s *Server) addSchedule(w http.ResponseWriter, r *http.Request) {
	var req api.ScheduleRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad schedule body: "+err.Error())
		return
	}
	if len(req.Cron) > store.MaxName {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("cron expression too long: %d bytes, the limit is %d", len(req.Cron), store.MaxName))
		return
	}
	if len(req.TimeZone) > store.MaxTimeZone {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("time zone name too long: %d bytes, the limit is %d", len(req.TimeZone), store.MaxTimeZone))
		return
	}
	c, err := schedule.ParseCron(req.Cron)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.TimeZone == "" {
		req.TimeZone = schedule.DefaultZone()
	}
	loc, err := time.LoadLocation(req.TimeZone)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad time zone %q: use an IANA name such as Europe/Berlin or UTC", req.TimeZone))
		return
	}
	if req.Concurrent == "" {
		req.Concurrent = "skip"
	}
	if req.Misfire == "" {
		req.Misfire = schedule.MisfireFireOnce
	}
	if req.Misfire != schedule.MisfireFireOnce && req.Misfire != schedule.MisfireSkip {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad misfire policy %q: use fire-once or skip", req.Misfire))
		return
	}
	opts := store.ScheduleOptions{FailureAction: req.FailureAction, Disabled: req.Disabled, Alerts: alerts(req.RunOptions), Selector: req.Selector}
	// Validate project, flow and options exactly as a run would.
	if _, err := submission.Prepare(r.Context(), s.store, submission.Request{Project: req.Project, Flow: req.Flow, Params: req.Params, Concurrent: req.Concurrent,
		FailureAction: opts.FailureAction, Disabled: opts.Disabled, Alerts: opts.Alerts, Selector: req.Selector}); err != nil {
		s.storeError(w, err)
		return
	}
	now, err := s.store.Now(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	next := c.Next(now, loc)
	if next.IsZero() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("cron %q never fires after now", req.Cron))
		return
	}
	sc, err := s.store.AddSchedule(r.Context(), store.NewSchedule{
		Project: req.Project, Flow: req.Flow, Cron: c.String(), TimeZone: req.TimeZone, Params: req.Params,
		Concurrent: req.Concurrent, Misfire: req.Misfire, Owner: actor(r), NextFire: next, Options: opts,
	})
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, scheduleView(sc))
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	page, ok := listPage(w, r)
	if !ok {
		return
	}
	list, err := s.store.ListSchedules(r.Context(), page)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeList(w, page, list, func(sc *store.Schedule) string { return idKey(sc.ID) }, scheduleView)
}

func (s *Server) scheduleByID(w http.ResponseWriter, r *http.Request) *store.Schedule {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad schedule id %q", r.PathValue("id")))
		return nil
	}
	sc, err := s.store.GetSchedule(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return nil
	}
	return sc
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	if sc := s.scheduleByID(w, r); sc != nil {
		writeJSON(w, http.StatusOK, scheduleView(sc))
	}
}

func (s *Server) pauseSchedule(w http.ResponseWriter, r *http.Request)  { s.setPaused(w, r, true) }
func (s *Server) resumeSchedule(w http.ResponseWriter, r *http.Request) { s.setPaused(w, r, false) }

func (s *Server) setPaused(w http.ResponseWriter, r *http.Request, paused bool) {
	sc := s.scheduleByID(w, r)
	if sc == nil {
		return
	}
	next := time.Time{}
	if sc.NextFire != nil {
		next = *sc.NextFire
	}
	if !paused {
		// Resume from now: fire times passed while paused are not caught up.
		c, err := schedule.ParseCron(sc.Cron)
		if err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		loc, err := time.LoadLocation(sc.TimeZone)
		if err != nil {
			writeError(w, http.StatusConflict, err.Error())
			return
		}
		now, err := s.store.Now(r.Context())
		if err != nil {
			s.storeError(w, err)
			return
		}
		next = c.Next(now, loc)
	}
	if err := s.store.SetSchedulePaused(r.Context(), sc.ID, paused, next); err != nil {
		s.storeError(w, err)
		return
	}
	sc, err := s.store.GetSchedule(r.Context(), sc.ID)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduleView(sc))
}

func (s *Server) removeSchedule(w http.ResponseWriter, r *http.Request) {
	sc := s.scheduleByID(w, r)
	if sc == nil {
		return
	}
	if err := s.store.DeleteSchedule(r.Context(), sc.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, scheduleView(sc))
}
