// Package metrics exposes crawlctl's Prometheus metrics at /metrics on both
// daemons. The web server reports the cluster as the database sees it
// (executions by status, queue depth, executors by state, heartbeat ages) and
// its dispatch latency; an executor reports its own work (running flows, job
// starts, claims, time since its last heartbeat). Nothing secret is exported:
// no DSN, no parameters.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crawlctl/crawlctl/pkg/internal/store"
)

// Web holds the web server's metrics.
type Web struct {
	reg *prometheus.Registry
	// DispatchLatency is submit → DISPATCHING, observed by the dispatcher.
	DispatchLatency prometheus.Histogram
	// Dispatched counts assignments, by outcome of the nudge.
	Dispatched *prometheus.CounterVec
	// Fired counts schedule fire times, by outcome.
	Fired *prometheus.CounterVec
}

// NewWeb registers the web server's metrics; cluster state is read from st on
// every scrape.
func NewWeb(st *store.Store, offlineAfter time.Duration) *Web {
	reg := prometheus.NewRegistry()
	w := &Web{
		reg: reg,
		DispatchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "crawlctl_dispatch_latency_seconds",
			Help:    "Time from submit to assignment to an executor.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		Dispatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawlctl_dispatches_total", Help: "Executions assigned to an executor, by nudge outcome.",
		}, []string{"outcome"}),
		Fired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawlctl_schedule_fires_total", Help: "Schedule fire times handled by this web server, by outcome.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(w.DispatchLatency, w.Dispatched, w.Fired, &cluster{st: st, offlineAfter: offlineAfter},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return w
}

// Handler serves /metrics.
func (w *Web) Handler() http.Handler { return promhttp.HandlerFor(w.reg, promhttp.HandlerOpts{}) }

var (
	execDesc      = prometheus.NewDesc("crawlctl_executions", "Executions by status.", []string{"status"}, nil)
	queueDesc     = prometheus.NewDesc("crawlctl_queue_depth", "Executions waiting to be dispatched (QUEUED).", nil, nil)
	executorsDesc = prometheus.NewDesc("crawlctl_executors", "Executors by state (active/inactive and online/offline/stopped).", []string{"active", "status"}, nil)
	beatDesc      = prometheus.NewDesc("crawlctl_executor_heartbeat_age_seconds", "Age of each executor's last heartbeat, by the database clock.", []string{"executor", "name"}, nil)
	scrapeErrDesc = prometheus.NewDesc("crawlctl_metrics_database_up", "1 if the last scrape could read the database.", nil, nil)
)

// cluster reads cluster state from the database at scrape time.
type cluster struct {
	st           *store.Store
	offlineAfter time.Duration
}

func (c *cluster) Describe(ch chan<- *prometheus.Desc) {
	ch <- execDesc
	ch <- queueDesc
	ch <- executorsDesc
	ch <- beatDesc
	ch <- scrapeErrDesc
}

func (c *cluster) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err1 := c.st.ExecutionCounts(ctx)
	execs, err2 := c.st.ListExecutors(ctx)
	up := 1.0
	if err1 != nil || err2 != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, up)
	for _, s := range []string{store.ExecQueued, store.ExecDispatching, store.ExecRunning, store.ExecKilling, store.ExecSucceeded, store.ExecFailed, store.ExecKilled} {
		ch <- prometheus.MustNewConstMetric(execDesc, prometheus.GaugeValue, float64(counts[s]), s)
	}
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(counts[store.ExecQueued]))
	states := map[[2]string]int{}
	for _, active := range []string{"true", "false"} {
		for _, st := range []string{store.StatusOnline, store.StatusOffline, store.StatusStopped} {
			states[[2]string{active, st}] = 0
		}
	}
	for _, e := range execs {
		active := "false"
		if e.Active {
			active = "true"
		}
		states[[2]string{active, e.Status(c.offlineAfter)}]++
		if e.HeartbeatAge >= 0 {
			ch <- prometheus.MustNewConstMetric(beatDesc, prometheus.GaugeValue, e.HeartbeatAge.Seconds(), strconv.FormatInt(e.ID, 10), e.Name)
		}
	}
	for k, n := range states {
		ch <- prometheus.MustNewConstMetric(executorsDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

// Executor holds an executor's metrics.
type Executor struct {
	reg       *prometheus.Registry
	JobStarts prometheus.Counter
	Claims    prometheus.Counter
	Finished  *prometheus.CounterVec
}

// NewExecutor registers an executor's metrics. running reports the flows it
// runs now; lastBeat the time of its last successful heartbeat.
func NewExecutor(running func() int, lastBeat func() time.Time) *Executor {
	reg := prometheus.NewRegistry()
	x := &Executor{
		reg:       reg,
		JobStarts: prometheus.NewCounter(prometheus.CounterOpts{Name: "crawlctl_executor_job_starts_total", Help: "Job attempts started on this executor."}),
		Claims:    prometheus.NewCounter(prometheus.CounterOpts{Name: "crawlctl_executor_claims_total", Help: "Executions claimed by this executor."}),
		Finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crawlctl_executor_executions_finished_total", Help: "Executions this executor ran to an end, by status.",
		}, []string{"status"}),
	}
	reg.MustRegister(x.JobStarts, x.Claims, x.Finished,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crawlctl_executor_running_flows", Help: "Flows running on this executor."},
			func() float64 { return float64(running()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "crawlctl_executor_heartbeat_age_seconds", Help: "Time since this executor's last successful heartbeat."},
			func() float64 {
				if t := lastBeat(); !t.IsZero() {
					return time.Since(t).Seconds()
				}
				return -1
			}),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return x
}

// Handler serves /metrics.
func (x *Executor) Handler() http.Handler { return promhttp.HandlerFor(x.reg, promhttp.HandlerOpts{}) }
