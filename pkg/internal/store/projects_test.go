package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/store/storetest"
)

func TestProjectVersions(t *testing.T) {
	storetest.EachParallel(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		// 2.5 MiB spans several chunks.
		big := bytes.Repeat([]byte("0123456789abcdef"), 160*1024)
		v1, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "crawlers", SHA256: "aa", Format: "flow2.0", Flows: `{"flows":[]}`, Archive: big, UploadedBy: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		v2, err := s.AddProjectVersion(ctx, store.NewProjectVersion{Project: "crawlers", SHA256: "bb", Format: "legacy", Flows: `{"flows":[1]}`, Archive: []byte("small")})
		if err != nil {
			t.Fatal(err)
		}
		if v1.Version != 1 || v2.Version != 2 || v1.ProjectID != v2.ProjectID {
			t.Fatalf("versions %d, %d (projects %d, %d)", v1.Version, v2.Version, v1.ProjectID, v2.ProjectID)
		}
		got, err := s.ProjectArchive(ctx, v1.ProjectID, 1)
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("archive v1: %d bytes, %v; want %d bytes back", len(got), err, len(big))
		}
		latest, err := s.GetProjectVersion(ctx, "crawlers", 0)
		if err != nil || latest.Version != 2 || latest.Flows != `{"flows":[1]}` || latest.Format != "legacy" {
			t.Fatalf("latest = %+v, %v", latest, err)
		}
		old, err := s.GetProjectVersion(ctx, "crawlers", 1)
		if err != nil || old.SHA256 != "aa" || old.Size != int64(len(big)) || old.UploadedBy != "alice" {
			t.Fatalf("v1 = %+v, %v", old, err)
		}
		vs, err := s.ProjectVersions(ctx, v1.ProjectID)
		if err != nil || len(vs) != 2 || vs[0].Version != 2 {
			t.Fatalf("versions = %+v, %v", vs, err)
		}
		list, err := s.ListProjects(ctx, store.Page{})
		if err != nil || len(list) != 1 || list[0].LatestVersion != 2 {
			t.Fatalf("projects = %+v, %v", list, err)
		}
		if _, err := s.GetProject(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown project: %v", err)
		}
		if _, err := s.GetProjectVersion(ctx, "crawlers", 9); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown version: %v", err)
		}
	})
}
