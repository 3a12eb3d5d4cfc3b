package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// chunkSize keeps every project_files row far below MySQL's max_allowed_packet.
const chunkSize = 1 << 20

// Project is one row of projects.
type Project struct {
	ID            int64
	Name          string
	Description   string
	LatestVersion int
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// LatestFlows is the latest version's parsed project as JSON (see
	// ProjectVersion.Flows); set by ListProjects only.
	LatestFlows string
}

// ProjectVersion is one upload of a project.
type ProjectVersion struct {
	ProjectID  int64
	Project    string
	Version    int
	SHA256     string
	Size       int64
	Format     string
	Flows      string // the parsed project as JSON
	UploadedBy string
	CreatedAt  time.Time
}

// NewProjectVersion is an upload to store.
type NewProjectVersion struct {
	Project    string
	SHA256     string
	Format     string
	Flows      string // JSON of the parsed project
	Archive    []byte
	UploadedBy string
}

// AddProjectVersion stores an uploaded archive as the project's next version,
// creating the project on its first upload. Everything is one transaction.
func (s *Store) AddProjectVersion(ctx context.Context, nv NewProjectVersion) (*ProjectVersion, error) {
	var pv *ProjectVersion
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.d.insertIgnore+" projects (name, latest_version, created_at, updated_at) VALUES (?, 0, "+s.d.now+", "+s.d.now+")", nv.Project); err != nil {
			return err
		}
		var id int64
		var latest int
		if err := tx.QueryRowContext(ctx, "SELECT id, latest_version FROM projects WHERE name = ?"+s.d.forUpdate, nv.Project).Scan(&id, &latest); err != nil {
			return err
		}
		version := latest + 1
		if _, err := tx.ExecContext(ctx, "UPDATE projects SET latest_version = ?, updated_at = "+s.d.now+" WHERE id = ?", version, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO project_versions (project_id, version, sha256, size, format, flows, uploaded_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, "+s.d.now+")",
			id, version, nv.SHA256, len(nv.Archive), nv.Format, nv.Flows, nv.UploadedBy); err != nil {
			return err
		}
		// At least one chunk, so an empty archive still reads back.
		for i := 0; i == 0 || i*chunkSize < len(nv.Archive); i++ {
			chunk := nv.Archive[i*chunkSize : min((i+1)*chunkSize, len(nv.Archive))]
			if _, err := tx.ExecContext(ctx, "INSERT INTO project_files (project_id, version, chunk, data) VALUES (?, ?, ?, ?)", id, version, i, chunk); err != nil {
				return err
			}
		}
		pv = &ProjectVersion{ProjectID: id, Project: nv.Project, Version: version, SHA256: nv.SHA256, Size: int64(len(nv.Archive)), Format: nv.Format, Flows: nv.Flows, UploadedBy: nv.UploadedBy}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store project %s: %w", nv.Project, err)
	}
	return pv, nil
}

// ListProjects returns projects by name (the key of p), each with the
// parsed flows of its latest version (ProjectVersion.Flows), in one query.
func (s *Store) ListProjects(ctx context.Context, p Page) ([]Project, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT p.id, p.name, p.latest_version, p.created_at, p.updated_at, COALESCE(v.flows, '')"+
		" FROM projects p LEFT JOIN project_versions v ON v.project_id = p.id AND v.version = p.latest_version"+
		" WHERE p.name > ? ORDER BY p.name"+p.limitSQL(), p.After)
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	defer rows.Close()
	out := []Project{}
	for rows.Next() {
		var p Project
		var c, u nullTime
		if err := rows.Scan(&p.ID, &p.Name, &p.LatestVersion, &c, &u, &p.LatestFlows); err != nil {
			return nil, err
		}
		p.CreatedAt, p.UpdatedAt = c.t, u.t
		out = append(out, p)
	}
	return out, rows.Err()
}

// GetProject returns a project by name, or ErrNotFound.
func (s *Store) GetProject(ctx context.Context, name string) (*Project, error) {
	var p Project
	var c, u nullTime
	err := s.db.QueryRowContext(ctx, "SELECT id, name, description, latest_version, created_at, updated_at FROM projects WHERE name = ?", name).Scan(&p.ID, &p.Name, &p.Description, &p.LatestVersion, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("project %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get project %q: %w", name, err)
	}
	p.CreatedAt, p.UpdatedAt = c.t, u.t
	return &p, nil
}

// ProjectVersions lists a project's versions, newest first.
func (s *Store) ProjectVersions(ctx context.Context, projectID int64) ([]ProjectVersion, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT v.project_id, p.name, v.version, v.sha256, v.size, v.format, v.uploaded_by, v.created_at FROM project_versions v JOIN projects p ON p.id = v.project_id WHERE v.project_id = ? ORDER BY v.version DESC", projectID)
	if err != nil {
		return nil, fmt.Errorf("list project versions: %w", err)
	}
	defer rows.Close()
	var out []ProjectVersion
	for rows.Next() {
		var v ProjectVersion
		var c nullTime
		if err := rows.Scan(&v.ProjectID, &v.Project, &v.Version, &v.SHA256, &v.Size, &v.Format, &v.UploadedBy, &c); err != nil {
			return nil, err
		}
		v.CreatedAt = c.t
		out = append(out, v)
	}
	return out, rows.Err()
}

// GetProjectVersion returns one version with its parsed flows (version 0 = latest).
func (s *Store) GetProjectVersion(ctx context.Context, project string, version int) (*ProjectVersion, error) {
	q := "SELECT v.project_id, p.name, v.version, v.sha256, v.size, v.format, v.flows, v.uploaded_by, v.created_at FROM project_versions v JOIN projects p ON p.id = v.project_id WHERE p.name = ? AND v.version = "
	args := []any{project}
	if version > 0 {
		q += "?"
		args = append(args, version)
	} else {
		q += "p.latest_version"
	}
	var v ProjectVersion
	var c nullTime
	err := s.db.QueryRowContext(ctx, q, args...).Scan(&v.ProjectID, &v.Project, &v.Version, &v.SHA256, &v.Size, &v.Format, &v.Flows, &v.UploadedBy, &c)
	if errors.Is(err, sql.ErrNoRows) {
		if version > 0 {
			return nil, fmt.Errorf("project %q version %d: %w", project, version, ErrNotFound)
		}
		return nil, fmt.Errorf("project %q: %w", project, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get project %q: %w", project, err)
	}
	v.CreatedAt = c.t
	return &v, nil
}

// ProjectArchive reassembles a stored archive from its chunks.
func (s *Store) ProjectArchive(ctx context.Context, projectID int64, version int) ([]byte, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT data FROM project_files WHERE project_id = ? AND version = ? ORDER BY chunk", projectID, version)
	if err != nil {
		return nil, fmt.Errorf("read project archive: %w", err)
	}
	defer rows.Close()
	var buf bytes.Buffer
	n := 0
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		buf.Write(b)
		n++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("archive of project %d version %d: %w", projectID, version, ErrNotFound)
	}
	return buf.Bytes(), nil
}
