package monitor

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// DashboardHandler serves the embedded dashboard (GET / and its assets).
// The page needs nothing else: it talks to /v1/events, /v1/cluster and
// /v1/tasks of the master that served it, and of the others on failover.
func DashboardHandler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("monitor: embedded dashboard missing: " + err.Error())
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' http: https: ws: wss:; img-src 'self' data:")
		files.ServeHTTP(w, r)
	})
}
