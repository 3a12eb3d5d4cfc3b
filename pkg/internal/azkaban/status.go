package azkaban

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/buildinfo"
)

// status is Azkaban's StatusServlet (/status, no login): the server's
// version and memory, whether the database answers, and the executors.
func (a *API) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	dbUp := a.st.Ping(ctx) == nil
	executors := map[string]any{}
	if dbUp {
		list, err := a.st.ListExecutors(ctx)
		if err != nil {
			dbUp = false
		}
		for _, e := range list {
			executors[strconv.FormatInt(e.ID, 10)] = map[string]any{"id": e.ID, "host": e.Host, "port": e.Port, "isActive": e.Active}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	limit := debug.SetMemoryLimit(-1)
	exe, _ := os.Executable()
	writeJSON(w, http.StatusOK, map[string]any{
		"version": buildinfo.String(), "pid": os.Getpid(), "installationPath": filepath.Dir(exe),
		"usedMemory": int64(ms.HeapInuse), "xmx": limit, "isDatabaseUp": dbUp, "executorStatusMap": executors,
	})
}
