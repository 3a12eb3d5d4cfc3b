package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// TestCancelAnswersWithoutTheExecutor: the cancel is in the database when
// the web server answers, so a frozen executor (which accepts connections
// but never replies) does not hold the answer up; the execution ends KILLED
// once the executor runs again.
func TestCancelAnswersWithoutTheExecutor(t *testing.T) {
	c := testcluster.New(t)
	c.StartWeb()
	ex := c.StartExecutor("frozen")
	c.MustCLI("executor", "activate", "frozen")
	c.MustCLI("project", "upload", writeProject(t, map[string]string{"hold": oneJob("sleep 300")}), "--name", "p")
	id := submit(t, c, "p", "hold")
	waitStatus(t, c, id, 20*time.Second, "RUNNING")

	ex.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			ex.Thaw()
		}
	}()
	// Shorter than the 5 s the web server used to wait for the executor.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.Server()+"/api/v1/executions/"+strconv.FormatInt(id, 10)+"/cancel", nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("cancel with the executor frozen did not answer in time: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(body, &got)
	if resp.StatusCode != 200 || got.Status != "KILLING" {
		t.Fatalf("cancel: %d %s, want 200 and KILLING", resp.StatusCode, body)
	}
	ex.Thaw()
	thawed = true
	waitStatus(t, c, id, 20*time.Second, "KILLED")
}
