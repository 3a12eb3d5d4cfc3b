package webserver

import (
	"context"
	"errors"

	"github.com/crawlctl/crawlctl/pkg/internal/azkaban"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// azkaban builds the Azkaban-compatible API on this server's store,
// dispatcher, login limiter, uploads and cancels.
func (s *Server) azkaban() *azkaban.API {
	return azkaban.New(azkaban.Config{Insecure: s.cfg.Insecure, SessionIdle: s.cfg.SessionIdle, MaxUploadBytes: s.cfg.Limits.MaxArchiveBytes},
		azkaban.Backend{
			Store:  s.store,
			Logins: s.logins,
			Submit: func(ctx context.Context, ne store.NewExecution) (*store.Execution, error) {
				ex, _, err := s.disp.Submit(ctx, ne)
				return ex, err
			},
			Cancel: s.cancel,
			Retry:  s.retry,
			Upload: func(ctx context.Context, project string, archive []byte, user string) (*store.ProjectVersion, error) {
				pv, _, err := s.storeUpload(ctx, project, archive, user)
				var iu *invalidUpload
				if errors.As(err, &iu) {
					return nil, &azkaban.UploadError{Msg: iu.msg}
				}
				return pv, err
			},
		}, s.log)
}
