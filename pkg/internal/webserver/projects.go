package webserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/flow"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

var projectName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func (s *Server) uploadProject(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !projectName.MatchString(name) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad project name %q: use letters, digits, '_', '.', '-' (at most 128)", name))
		return
	}
	limit := s.cfg.Limits.MaxArchiveBytes
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "read upload: "+err.Error())
		return
	}
	if int64(len(body)) > limit {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("archive is over the %d MiB limit (--max-archive-size)", limit>>20))
		return
	}
	pv, proj, err := s.storeUpload(r.Context(), name, body, actor(r))
	var ie *invalidUpload
	if errors.As(err, &ie) {
		writeError(w, http.StatusBadRequest, "invalid project: "+ie.msg)
		return
	}
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.log.Info().Str("project", name).Int("version", pv.Version).Str("by", actor(r)).Msg("project uploaded")
	writeJSON(w, http.StatusCreated, api.UploadResult{Project: name, Version: pv.Version, SHA256: pv.SHA256, Size: pv.Size, Format: proj.Format, Flows: proj.FlowNames()})
}

// invalidUpload is an archive refused by validation.
type invalidUpload struct{ msg string }

func (e *invalidUpload) Error() string { return e.msg }

// storeUpload validates an archive and stores it as the project's next
// version; an archive refused by validation is an *invalidUpload.
func (s *Server) storeUpload(ctx context.Context, name string, body []byte, user string) (*store.ProjectVersion, *flow.Project, error) {
	proj, err := flow.Load(bytes.NewReader(body), int64(len(body)), s.cfg.Limits)
	if err != nil {
		return nil, nil, &invalidUpload{err.Error()}
	}
	flows, err := json.Marshal(proj)
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(body)
	pv, err := s.store.AddProjectVersion(ctx, store.NewProjectVersion{
		Project: name, SHA256: hex.EncodeToString(sum[:]), Format: proj.Format, Flows: string(flows), Archive: body, UploadedBy: user,
	})
	return pv, proj, err
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request) {
	page, ok := listPage(w, r)
	if !ok {
		return
	}
	list, err := s.store.ListProjects(r.Context(), page)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeList(w, page, list, func(p store.Project) string { return p.Name }, func(p store.Project) api.Project {
		return wireProject(p, flow.FlowNamesOf(p.LatestFlows), nil)
	})
}

// loadProject returns the parsed flows of a project version (0 = latest).
func (s *Server) loadProject(r *http.Request, name string, version int) (*flow.Project, *store.ProjectVersion, error) {
	return submission.Load(r.Context(), s.store, name, version)
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request) {
	p, err := s.store.GetProject(r.Context(), r.PathValue("name"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	if p.LatestVersion == 0 {
		// Created through the Azkaban API, not uploaded yet.
		writeJSON(w, http.StatusOK, wireProject(*p, nil, nil))
		return
	}
	proj, _, err := s.loadProject(r, p.Name, 0)
	if err != nil {
		s.storeError(w, err)
		return
	}
	versions, err := s.store.ProjectVersions(r.Context(), p.ID)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wireProject(*p, proj.FlowNames(), versions))
}

func (s *Server) listFlows(w http.ResponseWriter, r *http.Request) {
	proj, pv, err := s.loadProject(r, r.PathValue("name"), 0)
	if err != nil {
		s.storeError(w, err)
		return
	}
	out := []api.FlowSummary{}
	for _, f := range proj.Flows {
		out = append(out, api.FlowSummary{Name: f.Name, Jobs: f.JobCount(), Version: pv.Version})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getFlow(w http.ResponseWriter, r *http.Request) {
	proj, pv, err := s.loadProject(r, r.PathValue("name"), 0)
	if err != nil {
		s.storeError(w, err)
		return
	}
	f := proj.Flow(r.PathValue("flow"))
	if f == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("project %q has no flow %q (flows: %v)", pv.Project, r.PathValue("flow"), proj.FlowNames()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"project": pv.Project, "version": pv.Version, "flow": f})
}
