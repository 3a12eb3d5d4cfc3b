package ui

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/crawlctl/crawlctl/pkg/api"
	"github.com/crawlctl/crawlctl/pkg/internal/auth"
	"github.com/crawlctl/crawlctl/pkg/internal/buildinfo"
)

var funcs = template.FuncMap{
	"when":     when,
	"whenIn":   whenIn,
	"dur":      duration,
	"since":    func(t *time.Time) string { return duration(t, nil) },
	"status":   func(s string) string { return "status status-" + s },
	"ended":    api.Ended,
	"lower":    strings.ToLower,
	"join":     strings.Join,
	"pathEsc":  url.PathEscape,
	"kv":       kvLines,
	"ms":       func(ms int64) string { return roundDur(time.Duration(ms) * time.Millisecond) },
	"sortKeys": sortedKeys,
	"whenT":    func(t time.Time) template.HTML { return when(&t) },
	"timep":    func(t time.Time) *time.Time { return &t },
	"list":     func(s ...string) []string { return s },
	"dict2": func(v view, e api.Executor) switchView {
		return switchView{V: v, E: e, Back: v.Here}
	},
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	"exitCode": func(p *int) string {
		if p == nil {
			return ""
		}
		return fmt.Sprint(*p)
	},
	"query": func(base string, kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		if len(q) == 0 {
			return base
		}
		return base + "?" + q.Encode()
	},
}

// when is a time shown relative ("3 min ago"), the absolute UTC time on
// hover; static/app.js keeps the relative text fresh.
func when(t *time.Time) template.HTML {
	if t == nil || t.IsZero() {
		return "<span class=\"muted\">–</span>"
	}
	abs := t.UTC().Format("2006-01-02 15:04:05 UTC")
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s">%s</time>`,
		template.HTMLEscapeString(t.UTC().Format(time.RFC3339Nano)), abs, template.HTMLEscapeString(relative(*t, time.Now()))))
}

// whenIn is a time in a schedule's zone, the zone named beside it.
func whenIn(t *time.Time, zone string) template.HTML {
	if t == nil || t.IsZero() {
		return "<span class=\"muted\">–</span>"
	}
	local := *t
	if loc, err := time.LoadLocation(zone); err == nil {
		local = t.In(loc)
	}
	return template.HTML(fmt.Sprintf(`<time datetime="%s" title="%s (%s)">%s <span class="tz">%s</span></time>`,
		template.HTMLEscapeString(t.UTC().Format(time.RFC3339Nano)), template.HTMLEscapeString(relative(*t, time.Now())),
		t.UTC().Format("2006-01-02 15:04:05 UTC"), local.Format("2006-01-02 15:04:05"), template.HTMLEscapeString(zone)))
}

func relative(t, now time.Time) string {
	d := now.Sub(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	if d < 5*time.Second {
		return "just now"
	}
	return roundDur(d) + " " + suffix
}

func roundDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
}

// duration is end-start, or start to now while it runs.
func duration(start, end *time.Time) string {
	if start == nil {
		return ""
	}
	e := time.Now()
	if end != nil {
		e = *end
	}
	return roundDur(e.Sub(*start))
}

func kvLines(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(&b, "%s=%s\n", k, m[k])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// parsePages parses every page with the layout.
func parsePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		pages[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
	}
	return pages
}

// view is what every page's template gets.
type view struct {
	Title   string
	Nav     string
	User    string
	Role    string
	CSRF    string
	Secure  bool // logged in (not --insecure): show the logout button
	Version string
	Flash   string
	Here    string // this page's URL, for forms that come back to it
	Data    any
	s       *session
}

func (v view) Can(role string) bool { return v.s.can(role) }

func (u *UI) render(w http.ResponseWriter, r *http.Request, s *session, page, title string, data any) {
	v := view{Title: title, Nav: strings.Split(strings.TrimPrefix(r.URL.Path, "/ui/"), "/")[0], Data: data, s: s,
		Version: buildinfo.Version, Flash: r.URL.Query().Get("flash"), Here: hereURL(r)}
	if s != nil {
		v.User, v.Role, v.CSRF, v.Secure = s.id.User, s.id.Role, s.csrf, s.token != ""
	}
	if v.Role == "" {
		v.Role = auth.Viewer
	}
	var buf bytes.Buffer
	t, ok := u.pages[page]
	if !ok {
		panic("ui: no page " + page)
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		u.cfg.Log.Error().Err(err).Str("page", page).Msg("web ui: render failed")
		http.Error(w, "internal error: the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// switchView is what the executor switch partial gets.
type switchView struct {
	V    view
	E    api.Executor
	Back string
}

// hereURL is the request's /ui/ URL without its flash note.
func hereURL(r *http.Request) string {
	q := r.URL.Query()
	q.Del("flash")
	if len(q) == 0 {
		return r.URL.Path
	}
	return r.URL.Path + "?" + q.Encode()
}
