package api

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// CORS headers (Fetch standard).
const (
	headerOrigin        = "Origin"
	headerAllowOrigin   = "Access-Control-Allow-Origin"
	headerRequestMethod = "Access-Control-Request-Method"
)

// cors lets the dashboard served by one master read from another after a
// failover: a GET, HEAD or OPTIONS request whose Origin is the HTTP address
// of a master of the cluster is allowed to read the answer, and such a
// preflight is answered here, before authentication (browsers send
// preflights without credentials). Other origins and every write get no
// CORS headers, so browsers keep other sites' pages out.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		origin := r.Header.Get(headerOrigin)
		if origin == "" || !readMethod(r.Method) {
			return next(c)
		}
		h := c.Response().Header()
		h.Add("Vary", headerOrigin)
		preflight := r.Method == http.MethodOptions && r.Header.Get(headerRequestMethod) != ""
		if (preflight && !readMethod(r.Header.Get(headerRequestMethod))) || !s.masterOrigin(origin, r.Host) {
			return next(c)
		}
		h.Set(headerAllowOrigin, origin)
		if !preflight {
			h.Set("Access-Control-Expose-Headers", strings.Join([]string{headerNode, headerLeader, headerIndex}, ", "))
			return next(c)
		}
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", "600")
		return c.NoContent(http.StatusNoContent)
	}
}

func readMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// masterOrigin reports whether origin is this master (host) or the HTTP
// address of a master in the cluster's configuration. Masters must
// advertise the address browsers use: one bound on all interfaces
// (":7101") matches no origin.
func (s *Server) masterOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, srv := range s.b.Status().Servers {
		addr := srv.HTTPAddr
		if p, err := url.Parse(addr); err == nil && p.Host != "" {
			addr = p.Host
		}
		if addr != "" && strings.EqualFold(u.Host, addr) {
			return true
		}
	}
	return false
}
