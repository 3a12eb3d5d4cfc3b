package httpx

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, http.StatusConflict, "taken")
	if w.Code != http.StatusConflict || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("code %d, type %q", w.Code, w.Header().Get("Content-Type"))
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 1 || body["error"] != "taken" {
		t.Errorf("body %s", w.Body)
	}
}
