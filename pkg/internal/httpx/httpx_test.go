package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestError(t *testing.T) {
	for _, c := range []struct {
		w    Writer
		want string
	}{
		{Writer{}, "{\"error\":\"taken\"}\n"},
		{Writer{Indent: "  "}, "{\n  \"error\": \"taken\"\n}\n"},
	} {
		w := httptest.NewRecorder()
		c.w.Error(w, http.StatusConflict, "taken")
		if w.Code != http.StatusConflict || w.Header().Get("Content-Type") != "application/json" || w.Body.String() != c.want {
			t.Errorf("indent %q: %d %q %q", c.w.Indent, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
}
