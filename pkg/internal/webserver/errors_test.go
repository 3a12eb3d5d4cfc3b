package webserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rs/zerolog"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
	"github.com/crawlctl/crawlctl/pkg/internal/submission"
)

func TestStatusOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("execution 7: %w", store.ErrNotFound), http.StatusNotFound},
		{&submission.InputError{Msg: `no project "p"`, NotFound: true}, http.StatusNotFound},
		{&submission.InputError{Msg: "bad concurrent option"}, http.StatusBadRequest},
		{&RefError{Ref: "x"}, http.StatusNotFound},
		{&RefError{Ref: "x", Candidates: []string{"1 (a h:1)", "2 (a h:2)"}}, http.StatusBadRequest},
		{fmt.Errorf("user bob: %w", store.ErrConflict), http.StatusConflict},
		{fmt.Errorf("execution 3 attempt 1: %w", store.ErrFenced), http.StatusConflict},
		{errors.New("Error 1045 (28000): Access denied for user 'crawl'@'10.0.0.5'"), http.StatusInternalServerError},
	} {
		if got := statusOf(c.err); got != c.want {
			t.Errorf("statusOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestInternalErrorsKeepTheirDetailFromTheClient(t *testing.T) {
	s := &Server{log: zerolog.Nop()}
	w := httptest.NewRecorder()
	s.storeError(w, errors.New("Error 1045 (28000): Access denied for user 'crawl'@'10.0.0.5'"))
	var body apiError
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusInternalServerError || body.Error != "internal error" {
		t.Errorf("%d %+v", w.Code, body)
	}
	w = httptest.NewRecorder()
	s.storeError(w, &RefError{Ref: "a", Candidates: []string{"1 (a h:1)", "2 (a h:2)"}})
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusBadRequest || len(body.Candidates) != 2 {
		t.Errorf("%d %+v", w.Code, body)
	}
}
