package webserver

import (
	"errors"
	"net/http"
	"strings"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/dispatch"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

// statusOf is the HTTP status of a handler's error, the one place where
// errors become statuses: unknown names 404, taken names and moves the
// execution's state does not allow 409, the user's bad values and ambiguous
// references 400, anything else 500.
func statusOf(err error) int {
	var re *RefError
	var ie *submission.InputError
	switch {
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrFenced), errors.Is(err, store.ErrInactive), errors.Is(err, dispatch.ErrNoExecutor):
		return http.StatusConflict
	case errors.As(err, &re), errors.As(err, &ie), errors.Is(err, store.ErrBadCursor):
		return http.StatusBadRequest
	default:
		return http.StatusInternalServerError
	}
}

// storeError answers a handler's error with the status statusOf gives it.
// A 500 tells the client only "internal error": the detail, which may be a
// database driver's, goes to the log.
func (s *Server) storeError(w http.ResponseWriter, err error) {
	code := statusOf(err)
	if code == http.StatusInternalServerError {
		s.log.Error().Err(err).Msg("request failed")
		writeError(w, code, "internal error")
		return
	}
	// The sentence says what is in the way; the kind of error is the status.
	body := api.Error{Error: strings.TrimSuffix(err.Error(), ": "+store.ErrConflict.Error())}
	var re *RefError
	if errors.As(err, &re) {
		body.Candidates = re.Candidates
	}
	writeJSON(w, code, body)
}
