// Package httpx holds the JSON answers the web server's API and the
// executor's servlet share.
package httpx

import (
	"encoding/json"
	"net/http"
)

// WriteJSON answers code with v as indented JSON.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ErrorBody is the body of every error answer.
type ErrorBody struct {
	Error      string   `json:"error"`
	Candidates []string `json:"candidates,omitempty"`
}

// WriteError answers code with an ErrorBody saying msg.
func WriteError(w http.ResponseWriter, code int, msg string) {
	WriteJSON(w, code, ErrorBody{Error: msg})
}
