package webserver

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// listPage reads the ?limit= and ?cursor= of a list request (see api's
// paging constants) as the page to read: one row more than the limit, so
// writeList can tell whether another page follows. It answers 400 and
// returns false when they are bad.
func listPage(w http.ResponseWriter, r *http.Request) (store.Page, bool) {
	limit := api.DefaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > api.MaxLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("bad limit %q: give 1 to %d and page on with ?cursor= (the %s header)", v, api.MaxLimit, api.NextCursorHeader))
			return store.Page{}, false
		}
		limit = n
	}
	return store.Page{After: r.URL.Query().Get("cursor"), Limit: limit + 1}, true
}

// writeList answers a list read with page: the rows up to the page's limit
// and, when there were more, the X-Next-Cursor header naming the last row
// sent (key gives a row's cursor).
func writeList[T, W any](w http.ResponseWriter, page store.Page, rows []T, key func(T) string, wire func(T) W) {
	if limit := page.Limit - 1; len(rows) > limit {
		rows = rows[:limit]
		w.Header().Set(api.NextCursorHeader, key(rows[len(rows)-1]))
	}
	out := make([]W, 0, len(rows))
	for _, r := range rows {
		out = append(out, wire(r))
	}
	writeJSON(w, http.StatusOK, out)
}

func idKey(id int64) string { return strconv.FormatInt(id, 10) }

// beforeCursor reads the cursor of a newest-first list: the next page holds
// the rows older than the last one seen (0 for the first page). It answers
// 400 and returns false when the cursor is not such an id.
func beforeCursor(w http.ResponseWriter, page store.Page) (int64, bool) {
	if page.After == "" {
		return 0, true
	}
	id, err := strconv.ParseInt(page.After, 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("bad cursor %q: give the %s header of the previous page", page.After, api.NextCursorHeader))
		return 0, false
	}
	return id, true
}
