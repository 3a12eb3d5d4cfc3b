// Package httpx holds the JSON answers the web server's API and the
// executor's servlet share.
package httpx

import (
	"encoding/json"
	"net/http"

	"github.com/crawlctl/crawlctl/pkg/api"
)

// Writer writes JSON answers, each value indented by Indent ("" = compact,
// as Azkaban's executor servlet answers). RawHTML leaves <, > and & as they
// are instead of escaping them (for answers people read with curl).
type Writer struct {
	Indent  string
	RawHTML bool
}

// JSON answers code with v.
func (jw Writer) JSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", jw.Indent)
	enc.SetEscapeHTML(!jw.RawHTML)
	_ = enc.Encode(v)
}

// Error answers code with an ErrorBody saying msg.
func (jw Writer) Error(w http.ResponseWriter, code int, msg string) {
	jw.JSON(w, code, ErrorBody{Error: msg})
}

// ErrorBody is the body of every error answer (the REST API's api.Error).
type ErrorBody = api.Error
