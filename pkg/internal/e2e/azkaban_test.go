package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crawlctl/crawlctl/pkg/internal/testcluster"
)

// azProject is a project with a flow taking a parameter, a flow with an
// embedded flow, a flow held by a gate file, and a flow of two jobs whose
// first waits for the gate file with ".a" appended.
func azProject(t *testing.T, gate string) string {
	return writeProject(t, map[string]string{
		"hello": `config:
  who: world
nodes:
  - name: greet
    type: command
    config:
      command: echo "hello ${who} <&>"
  - name: done
    type: command
    dependsOn: [greet]
    config:
      command: echo done
`,
		"nested": `nodes:
  - name: z
    type: noop
    dependsOn: [ef, a]
  - name: a
    type: noop
  - name: ef
    type: flow
    nodes:
      - name: y
        type: noop
        dependsOn: [x]
      - name: x
        type: noop
`,
		"gated": oneJob("while [ ! -e " + gate + " ]; do sleep 0.05; done"),
		"twostep": `nodes:
  - name: a
    type: command
    config:
      command: "while [ ! -e ` + gate + `.a ]; do sleep 0.05; done"
  - name: b
    type: command
    dependsOn: [a]
    config:
      command: echo b
`,
	})
}

// execShape and nodeShape are the keys of fetchexecflow.
var (
	execShape = map[string]string{"execid": "number", "project": "string", "projectId": "number", "submitUser": "string", "submitTime": "number",
		"id": "string", "flow": "string", "flowId": "string", "nestedId": "string", "type": "string", "status": "string", "startTime": "number",
		"endTime": "number", "updateTime": "number", "attempt": "number", "nodes": "array"}
	nodeShape = map[string]string{"id": "string", "type": "string", "status": "string", "startTime": "number", "endTime": "number",
		"updateTime": "number", "attempt": "number", "nestedId": "string"}
	logShape = map[string]string{"data": "string", "offset": "number", "length": "number"}
)

// nodeStatuses maps fetchexecflow's top-level nodes to their statuses.
func nodeStatuses(r azReply) map[string]string {
	out := map[string]string{}
	for _, n := range r.JSON["nodes"].([]any) {
		m := n.(map[string]any)
		out[m["id"].(string)] = m["status"].(string)
	}
	return out
}

// waitAzStatus polls fetchexecflow until the execution has one of want.
func waitAzStatus(t *testing.T, az azClient, sid string, id int64, want ...string) azReply {
	t.Helper()
	var last azReply
	testcluster.WaitFor(t, 60*time.Second, fmt.Sprintf("execution %d %v", id, want), func() (bool, string) {
		last = az.get("/executor", url.Values{"ajax": {"fetchexecflow"}, "execid": {strconv.FormatInt(id, 10)}, "session.id": {sid}})
		st, _ := last.JSON["status"].(string)
		for _, w := range want {
			if st == w {
				return true, st
			}
		}
		return false, last.Body
	})
	return last
}

func TestAzkabanAjaxAPI(t *testing.T) {
	c := testcluster.New(t)
	web := c.StartWeb()
	c.StartExecutor("e-act")
	c.StartExecutor("e-idle")
	c.MustCLI("executor", "activate", "e-act")
	addUser(t, c, "ada", "admin", "password-of-ada")
	addUser(t, c, "olga", "operator", "password-of-olga")
	addUser(t, c, "vic", "viewer", "password-of-vic")
	az := azClient{t: t, base: c.Server()}
	gate := filepath.Join(t.TempDir(), "gate")

	// /status needs no login.
	st := az.get("/status", nil)
	wantShape(t, "status", st, map[string]string{"version": "string", "pid": "number", "installationPath": "string", "usedMemory": "number",
		"xmx": "number", "isDatabaseUp": "bool", "executorStatusMap": "object"})
	if st.JSON["isDatabaseUp"] != true || len(st.JSON["executorStatusMap"].(map[string]any)) != 2 {
		t.Fatalf("status: %s", st.Body)
	}
	for id, e := range st.JSON["executorStatusMap"].(map[string]any) {
		checkObject(t, "executorStatusMap["+id+"]", e.(map[string]any), map[string]string{"id": "number", "host": "string", "port": "number", "isActive": "bool"})
	}

	// Login: the session id comes as a field and as a cookie.
	sid, cookie := az.login("olga", "password-of-olga")
	admin, _ := az.login("ada", "password-of-ada")
	viewer, _ := az.login("vic", "password-of-vic")
	wantError(t, "wrong password", az.post("/", url.Values{"action": {"login"}, "username": {"olga"}, "password": {"nope-nope"}}), 200, "Incorrect Login. Username/Password not found.")
	wantError(t, "login without credentials", az.post("/", url.Values{"action": {"login"}}), 200, "Incorrect Login.")
	if r := az.post("/?action=login&username=olga&password=password-of-olga", nil); r.JSON != nil || r.Body != "Login error. Must pass username and password in request body" {
		t.Fatalf("password in the query string: %d %s", r.Code, r.Body)
	}

	// Without a session.
	wantError(t, "GET without a session", az.get("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"p"}}), 200, "session")
	wantError(t, "GET with an unknown session", az.get("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"p"}, "session.id": {"0000"}}), 200, "session")
	xhr := az.post("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"p"}}, "X-Requested-With", "XMLHttpRequest")
	wantShape(t, "XHR POST without a session", xhr, map[string]string{"status": "string", "message": "string", "action": "string"})
	if xhr.JSON["message"] != "Invalid Session. Need to re-login" || xhr.JSON["action"] != "login" || xhr.JSON["status"] != "error" {
		t.Fatalf("XHR POST without a session: %s", xhr.Body)
	}

	// create: an empty project, then the upload fills it.
	created := az.post("/manager", url.Values{"action": {"create"}, "name": {"p"}, "description": {"crawls"}, "session.id": {sid}})
	wantShape(t, "create", created, map[string]string{"status": "string", "path": "string", "action": "string"})
	if created.JSON["path"] != "manager?project=p" || created.JSON["action"] != "redirect" {
		t.Fatalf("create: %s", created.Body)
	}
	for _, tc := range []struct{ who, name, msg string }{
		{sid, "p", "Project already exists."},
		{sid, "9p", "Project names must start with a letter, followed by any number of letters, digits, '-' or '_'."},
		{viewer, "q", "User vic doesn't have permission to create projects."},
	} {
		r := az.post("/manager", url.Values{"action": {"create"}, "name": {tc.name}, "description": {"d"}, "session.id": {tc.who}})
		wantShape(t, "create "+tc.name, r, map[string]string{"status": "string", "message": "string"})
		if r.JSON["status"] != "error" || r.JSON["message"] != tc.msg {
			t.Fatalf("create %s: %s", tc.name, r.Body)
		}
	}
	if r := az.post("/manager", url.Values{"action": {"create"}, "name": {"empty"}, "description": {""}, "session.id": {sid}}); r.JSON["status"] != "success" {
		t.Fatalf("create with an empty description: %s", r.Body)
	}
	if code, body := testcluster.Do(t, http.MethodGet, c.Server()+"/api/v1/projects/empty", c.Token, nil); code != 200 || !strings.Contains(body, `"latest_version": 0`) {
		t.Fatalf("a created project before its first upload, by the REST API: %d %s", code, body)
	}
	archive := zipDir(t, azProject(t, gate))
	up := az.upload(url.Values{"ajax": {"upload"}, "project": {"p"}, "session.id": {sid}}, archive, "application/zip")
	wantShape(t, "upload", up, map[string]string{"projectId": "string", "version": "string"})
	if up.Code != 200 || up.JSON["version"] != "1" {
		t.Fatalf("upload: %d %s", up.Code, up.Body)
	}
	projectID := up.JSON["projectId"].(string)
	wantError(t, "upload to an unknown project", az.upload(url.Values{"ajax": {"upload"}, "project": {"nope"}, "session.id": {sid}}, archive, "application/zip"),
		410, "Installation Failed. Project 'nope doesn't exist.")
	wantError(t, "upload as a viewer", az.upload(url.Values{"ajax": {"upload"}, "project": {"p"}, "session.id": {viewer}}, archive, "application/zip"),
		400, "Installation Failed. User 'vic' does not have write access.")
	wantError(t, "upload of a text file", az.upload(url.Values{"ajax": {"upload"}, "project": {"p"}, "session.id": {sid}}, archive, "text/plain"),
		400, "File type text/plain unrecognized.", "projectId", "version")
	bad := az.upload(url.Values{"ajax": {"upload"}, "project": {"p"}, "session.id": {sid}}, []byte("not a zip"), "application/octet-stream")
	if bad.Code != 500 || !strings.HasPrefix(bad.JSON["error"].(string), "Installation Failed.<br>") {
		t.Fatalf("invalid archive: %d %s", bad.Code, bad.Body)
	}

	// Reads, with the cookie alone, the session.id parameter, a REST token,
	// and a one-off login by POST.
	flowsWant := `{"flows":[{"flowId":"gated"},{"flowId":"hello"},{"flowId":"nested"},{"flowId":"twostep"}],"project":"p","projectId":` + projectID + "}\n"
	for name, r := range map[string]azReply{
		"cookie":                           az.get("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"p"}}, cookie),
		"cookie wins over a bad parameter": az.get("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"p"}, "session.id": {"bad"}}, cookie),
		"parameter":                        az.get("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"p"}, "session.id": {viewer}}),
		"REST token":                       az.get("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"p"}, "session.id": {c.Token}}),
		"one-off POST login":               az.post("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"p"}, "username": {"vic"}, "password": {"password-of-vic"}}),
	} {
		if r.Body != flowsWant {
			t.Fatalf("fetchprojectflows by %s: %s", name, r.Body)
		}
	}
	wantError(t, "fetchprojectflows of an unknown project", az.get("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"nope"}, "session.id": {sid}}),
		200, "Project nope doesn't exist.", "project")

	graph := az.get("/manager", url.Values{"ajax": {"fetchflowgraph"}, "project": {"p"}, "flow": {"nested"}, "session.id": {viewer}})
	wantShape(t, "fetchflowgraph", graph, map[string]string{"project": "string", "projectId": "number", "flow": "string", "nodes": "array"})
	if got := compact(graph.JSON["nodes"]); got != `[{"id":"a","in":[],"type":"noop"},{"flowId":"ef","id":"ef","in":[],"nodes":[{"id":"x","in":[],"type":"noop"},{"id":"y","in":["x"],"type":"noop"}],"type":"flow"},{"id":"z","in":["a","ef"],"type":"noop"}]` {
		t.Fatalf("fetchflowgraph nodes: %s", got)
	}
	wantError(t, "fetchflowgraph of an unknown flow", az.get("/manager", url.Values{"ajax": {"fetchflowgraph"}, "project": {"p"}, "flow": {"nope"}, "session.id": {sid}}),
		200, "Flow nope not found in project p", "project", "projectId:number")

	// executeFlow by GET with flowOverride, as scripts do.
	exec := az.get("/executor", url.Values{"ajax": {"executeFlow"}, "project": {"p"}, "flow": {"hello"}, "flowOverride[who]": {"azkaban"}, "session.id": {sid}})
	wantShape(t, "executeFlow", exec, map[string]string{"project": "string", "flow": "string", "execid": "number", "message": "string"})
	id := int64(exec.JSON["execid"].(float64))
	if exec.JSON["message"] != fmt.Sprintf("Execution queued successfully with exec id %d", id) {
		t.Fatalf("executeFlow: %s", exec.Body)
	}
	done := waitAzStatus(t, az, viewer, id, "SUCCEEDED", "FAILED", "KILLED")
	wantShape(t, "fetchexecflow", done, execShape)
	if done.JSON["status"] != "SUCCEEDED" || done.JSON["submitUser"] != "olga" || done.JSON["type"] != "flow" || done.JSON["flowId"] != "hello" {
		t.Fatalf("fetchexecflow: %s", done.Body)
	}
	for i, n := range done.JSON["nodes"].([]any) {
		want := map[string]string{}
		for k, v := range nodeShape {
			want[k] = v
		}
		if i == 0 { // done, which depends on greet
			want["in"] = "array"
		}
		checkObject(t, "fetchexecflow node", n.(map[string]any), want)
	}
	upd := az.get("/executor", url.Values{"ajax": {"fetchexecflowupdate"}, "execid": {strconv.FormatInt(id, 10)}, "lastUpdateTime": {"-1"}, "session.id": {sid}})
	wantShape(t, "fetchexecflowupdate", upd, map[string]string{"id": "string", "flow": "string", "attempt": "number", "nodes": "array", "status": "string",
		"startTime": "number", "endTime": "number", "updateTime": "number"})
	later := az.get("/executor", url.Values{"ajax": {"fetchexecflowupdate"}, "execid": {strconv.FormatInt(id, 10)}, "lastUpdateTime": {strconv.FormatInt(int64(upd.JSON["updateTime"].(float64)), 10)}, "session.id": {sid}})
	wantShape(t, "fetchexecflowupdate with nothing new", later, map[string]string{"status": "string", "startTime": "number", "endTime": "number", "updateTime": "number"})

	logs := az.get("/executor", url.Values{"ajax": {"fetchExecJobLogs"}, "execid": {strconv.FormatInt(id, 10)}, "jobId": {"greet"}, "offset": {"0"}, "length": {"10000"}, "session.id": {sid}})
	wantShape(t, "fetchExecJobLogs", logs, logShape)
	if logs.JSON["data"] != "hello azkaban &lt;&amp;&gt;\n" || logs.JSON["length"] != float64(len("hello azkaban <&>\n")) {
		t.Fatalf("job log (HTML-escaped, with the override): %s", logs.Body)
	}
	end := az.get("/executor", url.Values{"ajax": {"fetchExecJobLogs"}, "execid": {strconv.FormatInt(id, 10)}, "jobId": {"greet"}, "offset": {"100"}, "length": {"50"}, "session.id": {sid}})
	if end.Body != `{"data":"","length":0,"offset":100}`+"\n" {
		t.Fatalf("job log past its end: %s", end.Body)
	}
	wantError(t, "log of an unknown job", az.get("/executor", url.Values{"ajax": {"fetchExecJobLogs"}, "execid": {strconv.FormatInt(id, 10)}, "jobId": {"nope"}, "offset": {"0"}, "length": {"9"}, "session.id": {sid}}),
		200, fmt.Sprintf("Job nope doesn't exist in %d", id))
	flowLog := az.post("/executor", url.Values{"ajax": {"fetchExecFlowLogs"}, "execid": {strconv.FormatInt(id, 10)}, "offset": {"0"}, "length": {"100000"}, "session.id": {sid}})
	wantShape(t, "fetchExecFlowLogs", flowLog, logShape)
	if !strings.Contains(flowLog.JSON["data"].(string), "job greet succeeded") {
		t.Fatalf("flow log: %s", flowLog.Body)
	}
	wantError(t, "fetchexecflow of an unknown execution", az.get("/executor", url.Values{"ajax": {"fetchexecflow"}, "execid": {"99999"}, "session.id": {sid}}), 200, "Cannot find execution '99999'")

	// Options: disabled jobs, e-mails kept with the execution, and
	// useExecutor for an admin only.
	dis := az.post("/executor", url.Values{"ajax": {"executeFlow"}, "project": {"p"}, "flow": {"hello"}, "disabled": {`["greet"]`}, "failureAction": {"finishPossible"},
		"failureEmails": {"a@x.org, b@x.org"}, "failureEmailsOverride": {"true"}, "notifyFailureFirst": {"true"}, "session.id": {sid}})
	disID := int64(dis.JSON["execid"].(float64))
	if got := nodeStatuses(waitAzStatus(t, az, sid, disID, "SUCCEEDED", "FAILED")); got["greet"] != "SKIPPED" || got["done"] != "SUCCEEDED" {
		t.Fatalf("a disabled job: %v", got)
	}
	stored, err := openDB(t, c.DSN).s.GetExecution(context.Background(), disID)
	if err != nil || strings.Join(stored.Alerts.FailureEmails, " ") != "a@x.org b@x.org" || !stored.Alerts.NotifyFailureFirst || stored.FailureAction != "finishPossible" {
		t.Fatalf("stored options: %+v %v", stored, err)
	}
	idle := listExecutors(c)["e-idle"].ID
	pinned := func(who string) string {
		r := az.get("/executor", url.Values{"ajax": {"executeFlow"}, "project": {"p"}, "flow": {"hello"}, "concurrentOption": {"ignore"}, "flowOverride[useExecutor]": {strconv.FormatInt(idle, 10)}, "session.id": {who}})
		eid := int64(r.JSON["execid"].(float64))
		waitAzStatus(t, az, sid, eid, "SUCCEEDED")
		return showExec(c, eid).ExecutorName
	}
	if on := pinned(admin); on != "e-idle" {
		t.Fatalf("an admin's useExecutor ran on %s", on)
	}
	if on := pinned(sid); on != "e-act" {
		t.Fatalf("an operator's useExecutor must be dropped; ran on %s", on)
	}

	// A running execution: skip, getRunning, pause, cancel.
	run := az.get("/executor", url.Values{"ajax": {"executeFlow"}, "project": {"p"}, "flow": {"gated"}, "session.id": {sid}})
	runID := int64(run.JSON["execid"].(float64))
	waitAzStatus(t, az, sid, runID, "RUNNING")
	skipped := az.get("/executor", url.Values{"ajax": {"executeFlow"}, "project": {"p"}, "flow": {"gated"}, "session.id": {sid}})
	wantShape(t, "executeFlow skipped", skipped, map[string]string{"project": "string", "flow": "string", "execid": "number", "error": "string"})
	if skipped.JSON["execid"] != float64(-1) || skipped.JSON["error"] != "Error submitting flow gated. Flow gated is already running. Skipping execution." {
		t.Fatalf("skip: %s", skipped.Body)
	}
	for _, tc := range []struct {
		params url.Values
		msg    string
	}{
		{url.Values{"project": {"nope"}, "flow": {"x"}}, "Project 'nope' doesn't exist."},
		{url.Values{"project": {"p"}, "flow": {"nope"}}, "Flow 'nope' cannot be found in project p"},
		{url.Values{"project": {"empty"}, "flow": {"x"}}, "Flow 'x' cannot be found in project empty"},
		{url.Values{"project": {"p"}, "flow": {"gated"}, "concurrentOption": {"pipeline"}, "pipelineLevel": {"1"}}, "Error parsing flow options: concurrentOption=pipeline is not supported: crawlctl cannot hold a run's jobs back until the same jobs of the previous run have finished; use skip, ignore or queue"},
		{url.Values{"project": {"p"}, "flow": {"hello"}, "flowOverride[a]": {"1"}, "runtimeProperty[ROOT][b]": {"2"}}, "Error parsing flow options: give flowOverride[...] or runtimeProperty[...][...], not both"},
	} {
		tc.params.Set("ajax", "executeFlow")
		tc.params.Set("session.id", sid)
		r := az.get("/executor", tc.params)
		if r.JSON["error"] != tc.msg {
			t.Fatalf("executeFlow %v: %s", tc.params, r.Body)
		}
	}
	wantError(t, "executeFlow as a viewer", az.get("/executor", url.Values{"ajax": {"executeFlow"}, "project": {"p"}, "flow": {"hello"}, "session.id": {viewer}}),
		200, "User 'vic' doesn't have EXECUTE permissions on p", "project")
	running := az.get("/executor", url.Values{"ajax": {"getRunning"}, "project": {"p"}, "flow": {"gated"}, "session.id": {sid}})
	if running.Body != fmt.Sprintf(`{"execIds":[%d]}`+"\n", runID) {
		t.Fatalf("getRunning: %s", running.Body)
	}
	if r := az.get("/executor", url.Values{"ajax": {"getRunning"}, "project": {"p"}, "flow": {"hello"}, "session.id": {sid}}); r.Body != "{}\n" {
		t.Fatalf("getRunning with none: %s", r.Body)
	}
	if r := az.get("/executor", url.Values{"ajax": {"retryFailedJobs"}, "execid": {strconv.FormatInt(runID, 10)}, "session.id": {sid}}); !strings.HasPrefix(fmt.Sprint(r.JSON["error"]), fmt.Sprintf("Execution %d of flow gated is still running", runID)) {
		t.Fatalf("retryFailedJobs: %s", r.Body)
	}
	wantError(t, "retryFailedJobs of a finished execution", az.get("/executor", url.Values{"ajax": {"retryFailedJobs"}, "execid": {strconv.FormatInt(id, 10)}, "session.id": {sid}}),
		200, "Flow has already finished. Please re-execute.")
	wantError(t, "cancelFlow as a viewer", az.get("/executor", url.Values{"ajax": {"cancelFlow"}, "execid": {strconv.FormatInt(runID, 10)}, "session.id": {viewer}}),
		200, "User 'vic' doesn't have EXECUTE permissions on p")
	if r := az.get("/executor", url.Values{"ajax": {"cancelFlow"}, "execid": {strconv.FormatInt(runID, 10)}, "session.id": {sid}}); r.Body != "{}\n" {
		t.Fatalf("cancelFlow: %s", r.Body)
	}
	waitAzStatus(t, az, sid, runID, "KILLED")
	wantError(t, "cancelFlow of an ended execution", az.get("/executor", url.Values{"ajax": {"cancelFlow"}, "execid": {strconv.FormatInt(runID, 10)}, "session.id": {sid}}),
		200, fmt.Sprintf("Execution %d of flow gated isn't running.", runID))

	// pauseFlow: the running job finishes, the next waits for resumeFlow.
	two := az.get("/executor", url.Values{"ajax": {"executeFlow"}, "project": {"p"}, "flow": {"twostep"}, "session.id": {sid}})
	twoID := strconv.FormatInt(int64(two.JSON["execid"].(float64)), 10)
	execFlow := func() azReply {
		return az.get("/executor", url.Values{"ajax": {"fetchexecflow"}, "execid": {twoID}, "session.id": {sid}})
	}
	flowLogHas := func(text string) func() (bool, string) {
		return func() (bool, string) {
			r := az.get("/executor", url.Values{"ajax": {"fetchExecFlowLogs"}, "execid": {twoID}, "offset": {"0"}, "length": {"100000"}, "session.id": {sid}})
			return strings.Contains(fmt.Sprint(r.JSON["data"]), text), r.Body
		}
	}
	testcluster.WaitFor(t, 30*time.Second, "job a running", func() (bool, string) {
		r := execFlow()
		return nodeStatuses(r)["a"] == "RUNNING", r.Body
	})
	wantError(t, "pauseFlow as a viewer", az.get("/executor", url.Values{"ajax": {"pauseFlow"}, "execid": {twoID}, "session.id": {viewer}}),
		200, "User 'vic' doesn't have EXECUTE permissions on p")
	if r := az.get("/executor", url.Values{"ajax": {"pauseFlow"}, "execid": {twoID}, "session.id": {sid}}); r.Body != "{}\n" {
		t.Fatalf("pauseFlow: %s", r.Body)
	}
	if r := execFlow(); r.JSON["status"] != "PAUSED" {
		t.Fatalf("a paused execution shows %s", r.JSON["status"])
	}
	testcluster.WaitFor(t, 30*time.Second, "the executor to pause the run", flowLogHas("execution paused"))
	_ = os.WriteFile(gate+".a", nil, 0o644)
	testcluster.WaitFor(t, 30*time.Second, "job a to end", flowLogHas("job a succeeded"))
	if r := execFlow(); r.JSON["status"] != "PAUSED" || nodeStatuses(r)["b"] != "READY" {
		t.Fatalf("job b started while paused: %s", r.Body)
	}
	if r := az.get("/executor", url.Values{"ajax": {"resumeFlow"}, "execid": {twoID}, "session.id": {sid}}); r.Body != "{}\n" {
		t.Fatalf("resumeFlow: %s", r.Body)
	}
	twoIDn, _ := strconv.ParseInt(twoID, 10, 64)
	if got := nodeStatuses(waitAzStatus(t, az, sid, twoIDn, "SUCCEEDED", "FAILED", "KILLED")); got["b"] != "SUCCEEDED" {
		t.Fatalf("after resumeFlow: %v", got)
	}
	wantError(t, "pauseFlow of an ended execution", az.get("/executor", url.Values{"ajax": {"pauseFlow"}, "execid": {twoID}, "session.id": {sid}}),
		200, "Execution "+twoID+" of flow twostep isn't running.")

	// History.
	hist := az.get("/manager", url.Values{"ajax": {"fetchFlowExecutions"}, "project": {"p"}, "flow": {"hello"}, "start": {"0"}, "length": {"2"}, "session.id": {viewer}})
	wantShape(t, "fetchFlowExecutions", hist, map[string]string{"project": "string", "projectId": "number", "flow": "string", "total": "number", "from": "number",
		"length": "number", "executions": "array"})
	execs := hist.JSON["executions"].([]any)
	if hist.JSON["total"] != float64(4) || len(execs) != 2 {
		t.Fatalf("fetchFlowExecutions: %s", hist.Body)
	}
	for _, e := range execs {
		checkObject(t, "fetchFlowExecutions execution", e.(map[string]any), map[string]string{"execId": "number", "flowId": "string", "projectId": "number",
			"status": "string", "submitTime": "number", "startTime": "number", "endTime": "number", "submitUser": "string"})
	}
	if execs[0].(map[string]any)["execId"].(float64) <= execs[1].(map[string]any)["execId"].(float64) {
		t.Fatalf("fetchFlowExecutions is not newest first: %s", hist.Body)
	}
	last := az.get("/manager", url.Values{"ajax": {"fetchLastSuccessfulFlowExecution"}, "project": {"p"}, "flow": {"hello"}, "session.id": {sid}})
	wantShape(t, "fetchLastSuccessfulFlowExecution", last, map[string]string{"success": "string", "message": "string", "execId": "number"})
	if none := az.get("/manager", url.Values{"ajax": {"fetchLastSuccessfulFlowExecution"}, "project": {"p"}, "flow": {"gated"}, "session.id": {sid}}); none.Body != `{"message":"This flow has no successful run.","success":"false"}`+"\n" {
		t.Fatalf("no successful run: %s", none.Body)
	}

	// Schedules.
	sched := az.post("/schedule", url.Values{"ajax": {"scheduleCronFlow"}, "projectName": {"p"}, "flow": {"hello"}, "cronExpression": {"0 0 4 * * ?"},
		"flowOverride[who]": {"cron"}, "session.id": {sid}})
	wantShape(t, "scheduleCronFlow", sched, map[string]string{"status": "string", "scheduleId": "number", "message": "string"})
	if sched.JSON["message"] != "p.hello scheduled." {
		t.Fatalf("scheduleCronFlow: %s", sched.Body)
	}
	again := az.post("/schedule", url.Values{"ajax": {"scheduleCronFlow"}, "projectName": {"p"}, "flow": {"hello"}, "cronExpression": {"0 30 4 * * ?"}, "session.id": {sid}})
	if again.JSON["scheduleId"] != sched.JSON["scheduleId"] {
		t.Fatalf("scheduling a flow again replaces its schedule: %s then %s", sched.Body, again.Body)
	}
	schedID := strconv.FormatInt(int64(sched.JSON["scheduleId"].(float64)), 10)
	for _, tc := range []struct {
		params url.Values
		body   string
	}{
		{url.Values{"projectName": {"nope"}, "flow": {"hello"}, "cronExpression": {"0 0 4 * * ?"}}, `{"message":"Project nope does not exist","status":"error"}`},
		{url.Values{"projectName": {"p"}, "flow": {"hello"}, "cronExpression": {"every day"}}, `{"error":"This expression <every day> can not be parsed to quartz cron."}`},
		{url.Values{"projectName": {"p"}, "flow": {"nope"}, "cronExpression": {"0 0 4 * * ?"}}, `{"message":"Flow nope cannot be found in project p","status":"error"}`},
	} {
		tc.params.Set("ajax", "scheduleCronFlow")
		tc.params.Set("session.id", sid)
		if r := az.post("/schedule", tc.params); r.Body != tc.body+"\n" {
			t.Fatalf("scheduleCronFlow %v: %s", tc.params, r.Body)
		}
	}
	if r := az.post("/schedule", url.Values{"ajax": {"scheduleCronFlow"}, "projectName": {"p"}, "flow": {"hello"}, "cronExpression": {"0 0 4 * * ?"}, "session.id": {viewer}}); r.Body != `{"message":"Permission denied. Cannot execute hello","status":"error"}`+"\n" {
		t.Fatalf("scheduleCronFlow as a viewer: %s", r.Body)
	}
	fetched := az.get("/schedule", url.Values{"ajax": {"fetchSchedule"}, "projectId": {projectID}, "flowId": {"hello"}, "session.id": {viewer}})
	wantShape(t, "fetchSchedule", fetched, map[string]string{"schedule": "object"})
	s := fetched.JSON["schedule"].(map[string]any)
	checkObject(t, "fetchSchedule schedule", s, map[string]string{"scheduleId": "string", "submitUser": "string", "firstSchedTime": "string", "nextExecTime": "string",
		"period": "string", "cronExpression": "string", "executionOptions": "object"})
	if s["scheduleId"] != schedID || s["cronExpression"] != "0 30 4 * * ?" || len(s["nextExecTime"].(string)) != len("2006-01-02 15:04:05") {
		t.Fatalf("fetchSchedule: %s", fetched.Body)
	}
	if r := az.get("/schedule", url.Values{"ajax": {"fetchSchedule"}, "projectId": {projectID}, "flowId": {"gated"}, "session.id": {sid}}); r.Body != "{}\n" {
		t.Fatalf("fetchSchedule with none: %s", r.Body)
	}
	if r := az.post("/schedule", url.Values{"action": {"removeSched"}, "scheduleId": {schedID}, "session.id": {viewer}}); r.Body != `{"message":"Permission denied. Cannot remove schedule with id `+schedID+`","status":"error"}`+"\n" {
		t.Fatalf("removeSched as a viewer: %s", r.Body)
	}
	if r := az.post("/schedule", url.Values{"action": {"removeSched"}, "scheduleId": {schedID}, "session.id": {sid}}); r.Body != `{"message":"flow hello removed from Schedules.","status":"success"}`+"\n" {
		t.Fatalf("removeSched: %s", r.Body)
	}
	if r := az.post("/schedule", url.Values{"action": {"removeSched"}, "scheduleId": {schedID}, "session.id": {sid}}); r.Body != `{"message":"Schedule with ID `+schedID+` does not exist","status":"error"}`+"\n" {
		t.Fatalf("removeSched again: %s", r.Body)
	}

	// A schedule's runs get its options.
	every := az.post("/schedule", url.Values{"ajax": {"scheduleCronFlow"}, "projectName": {"p"}, "flow": {"hello"}, "cronExpression": {"* * * * * ?"},
		"disabled": {`["greet"]`}, "failureAction": {"cancelImmediately"}, "concurrentOption": {"ignore"}, "session.id": {sid}})
	if every.JSON["status"] != "success" {
		t.Fatalf("scheduleCronFlow every second: %s", every.Body)
	}
	var fired map[string]any
	testcluster.WaitFor(t, 30*time.Second, "a scheduled run", func() (bool, string) {
		h := az.get("/manager", url.Values{"ajax": {"fetchFlowExecutions"}, "project": {"p"}, "flow": {"hello"}, "start": {"0"}, "length": {"1"}, "session.id": {sid}})
		fired = h.JSON["executions"].([]any)[0].(map[string]any)
		return fired["submitUser"] != "olga" && fired["status"] == "SUCCEEDED", h.Body
	})
	firedID := int64(fired["execId"].(float64))
	if got := nodeStatuses(waitAzStatus(t, az, sid, firedID, "SUCCEEDED")); got["greet"] != "SKIPPED" || got["done"] != "SUCCEEDED" {
		t.Fatalf("a scheduled run with greet disabled: %v", got)
	}
	if ex, err := openDB(t, c.DSN).s.GetExecution(context.Background(), firedID); err != nil || ex.FailureAction != "cancelImmediately" {
		t.Fatalf("a scheduled run's failure action: %+v %v", ex, err)
	}
	everyID := strconv.FormatInt(int64(every.JSON["scheduleId"].(float64)), 10)
	if r := az.post("/schedule", url.Values{"action": {"removeSched"}, "scheduleId": {everyID}, "session.id": {sid}}); r.JSON["status"] != "success" {
		t.Fatalf("removeSched: %s", r.Body)
	}

	// reloadExecutors is for admins.
	if r := az.get("/executor", url.Values{"ajax": {"reloadExecutors"}, "session.id": {admin}}); r.Body != `{"status":"success"}`+"\n" {
		t.Fatalf("reloadExecutors: %s", r.Body)
	}
	if r := az.get("/executor", url.Values{"ajax": {"reloadExecutors"}, "session.id": {sid}}); r.Body != `{"error":"Only Admins are allowed to refresh the executors","status":"error"}`+"\n" {
		t.Fatalf("reloadExecutors as an operator: %s", r.Body)
	}

	// The other routes keep working beside "/" (which sends a browser to the
	// web UI: TestRootOpensTheUIForBrowsers).
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _ := testcluster.Get(t, c.Server()+path); code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
	}
	if code, body := testcluster.Do(t, http.MethodGet, c.Server()+"/api/v1/projects", c.Token, nil); code != 200 || !strings.Contains(body, `"p"`) {
		t.Fatalf("REST API: %d %s", code, body)
	}
	// No session id reaches the web server's log.
	for _, secret := range []string{sid, admin, viewer} {
		if strings.Contains(web.Log.String(), secret) {
			t.Fatal("a session id appears in the web server's log")
		}
	}
	_ = os.WriteFile(gate, nil, 0o644)
}

// TestAzkabanSessionsSpanWebServersAndExpire: a session made on one web
// server works on another on the same database and after a restart, and
// ends after the idle expiry (2s on the second web server here).
func TestAzkabanSessionsSpanWebServersAndExpire(t *testing.T) {
	c := testcluster.New(t)
	web1 := c.StartWeb()
	web2 := c.StartWeb("--session-idle", "2s")
	addUser(t, c, "olga", "operator", "password-of-olga")
	one, two := azClient{t: t, base: "http://" + web1.Addr}, azClient{t: t, base: "http://" + web2.Addr}
	sid, _ := one.login("olga", "password-of-olga")
	ask := func(az azClient) string {
		return az.get("/manager", url.Values{"ajax": {"fetchprojectflows"}, "project": {"nope"}, "session.id": {sid}}).Body
	}
	const ok = `{"error":"Project nope doesn't exist.","project":"nope"}` + "\n"
	if got := ask(two); got != ok {
		t.Fatalf("the second web server refuses the session: %s", got)
	}
	// Unused for over 2s: the second web server ends it, the first (10h)
	// still takes it.
	testcluster.WaitFor(t, 20*time.Second, "the session to expire on web-2", func() (bool, string) {
		got := ask(two)
		return got == `{"error":"session"}`+"\n", got
	})
	if got := ask(one); got != ok {
		t.Fatalf("web-1 (10h expiry) refuses the session: %s", got)
	}
	// A restart keeps it.
	web1.Signal(syscall.SIGTERM)
	<-web1.Done()
	c.Restart(web1)
	testcluster.WaitFor(t, 20*time.Second, "web-1 back", func() (bool, string) {
		resp, err := http.Get("http://" + web1.Addr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	if got := ask(one); got != ok {
		t.Fatalf("the session did not survive a restart: %s", got)
	}
}

// TestAzkabanOperatorScript runs pkg/internal/e2e/testdata/azkaban-operator.sh, an
// operator's curl + jq script, against a real cluster. Without curl or jq
// it is skipped, except under CI=true, where it fails.
func TestAzkabanOperatorScript(t *testing.T) {
	for _, tool := range []string{"curl", "jq", "bash"} {
		if _, err := osexec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed; CI installs it (see .ci/run)", tool)
			}
			t.Skipf("%s is not installed (apt-get install -y %s)", tool, tool)
		}
	}
	c := testcluster.New(t)
	c.StartWeb()
	c.StartExecutor("e")
	c.MustCLI("executor", "activate", "e")
	addUser(t, c, "olga", "operator", "password-of-olga")
	dir := writeProject(t, map[string]string{
		"hello": "nodes:\n  - name: greet\n    type: command\n    config:\n      command: echo \"hello ${who}\"\n",
		"slow":  oneJob("sleep 120"),
	})
	zipFile := filepath.Join(t.TempDir(), "p.zip")
	if err := os.WriteFile(zipFile, zipDir(t, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := osexec.CommandContext(ctx, "bash", filepath.Join(repoRoot(), "pkg", "internal", "e2e", "testdata", "azkaban-operator.sh"))
	cmd.Env = append(os.Environ(), "AZ_URL="+c.Server(), "AZ_USER=olga", "AZ_PASSWORD=password-of-olga", "AZ_ZIP="+zipFile)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "ok\n") {
		t.Fatalf("azkaban-operator.sh: %v\n%s", err, out)
	}
}
