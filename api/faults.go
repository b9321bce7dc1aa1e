package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/shepherd/shepherd/api/client"
	"github.com/shepherd/shepherd/api/wire"
	"github.com/shepherd/shepherd/cluster"
)

// FaultInjector injects network faults into this master's Raft transport
// (*cluster.Faults implements it). It is optional: Config.Faults is nil
// unless the master runs with --enable-fault-injection, and then the
// /v1/faults endpoints answer 404. Faults are node-local, so the
// endpoints are answered by the master that receives them, never
// redirected.
type FaultInjector interface {
	// Add activates a fault; an invalid one wraps fsm.ErrInvalid.
	Add(f Fault) (Fault, error)
	// List returns the active faults.
	List() []Fault
	// Remove ends one fault and reports whether it was active.
	Remove(id string) bool
	// Clear ends every fault and returns how many were active.
	Clear() int
}

// Fault is cluster's own type; the wire shape is client.Fault.
type Fault = cluster.Fault

var _ FaultInjector = (*cluster.Faults)(nil)

var errFaultsDisabled = &httpError{http.StatusNotFound, codeNotFound,
	"fault injection is disabled on this master (start it with --enable-fault-injection)"}

// maxFaultPeers bounds the peers one fault names.
const maxFaultPeers = 64

// handleAddFault is POST /v1/faults.
func (s *Server) handleAddFault(c echo.Context) error {
	if s.cfg.Faults == nil {
		return errFaultsDisabled
	}
	var req client.FaultRequest
	if err := s.decode(c, &req, bodyRequired); err != nil {
		return err
	}
	f, err := faultFromRequest(req)
	if err != nil {
		return err
	}
	added, err := s.cfg.Faults.Add(f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, toFault(added))
}

// handleListFaults is GET /v1/faults.
func (s *Server) handleListFaults(c echo.Context) error {
	if s.cfg.Faults == nil {
		return errFaultsDisabled
	}
	fs := s.cfg.Faults.List()
	out := client.FaultList{Faults: make([]client.Fault, 0, len(fs))}
	for _, f := range fs {
		out.Faults = append(out.Faults, toFault(f))
	}
	return c.JSON(http.StatusOK, out)
}

// handleClearFaults is DELETE /v1/faults.
func (s *Server) handleClearFaults(c echo.Context) error {
	if s.cfg.Faults == nil {
		return errFaultsDisabled
	}
	return c.JSON(http.StatusOK, client.FaultsRemoved{Removed: s.cfg.Faults.Clear()})
}

// handleRemoveFault is DELETE /v1/faults/:id.
func (s *Server) handleRemoveFault(c echo.Context) error {
	if s.cfg.Faults == nil {
		return errFaultsDisabled
	}
	id := c.Param("id")
	if !s.cfg.Faults.Remove(id) {
		return notFound("fault %q is not active", id)
	}
	return c.JSON(http.StatusOK, client.FaultsRemoved{Removed: 1})
}

func faultFromRequest(r client.FaultRequest) (Fault, error) {
	if len(r.Peers) > maxFaultPeers {
		return Fault{}, badRequest("at most %d peers per fault", maxFaultPeers)
	}
	f := Fault{
		Peers: r.Peers, Direction: cluster.FaultDirection(r.Direction), Action: cluster.FaultAction(r.Action),
		Probability: r.Probability,
	}
	for _, d := range []struct {
		field string
		in    string
		out   *time.Duration
	}{{"delay", r.Delay, &f.Delay}, {"jitter", r.Jitter, &f.Jitter}, {"duration", r.Duration, &f.Duration}} {
		if d.in == "" {
			continue
		}
		v, err := time.ParseDuration(d.in)
		if err != nil {
			return Fault{}, badRequest("%s must be a Go duration such as \"30s\", not %q", d.field, d.in)
		}
		*d.out = v
	}
	return f, nil
}

func toFault(f Fault) client.Fault {
	out := client.Fault{
		ID: f.ID,
		FaultRequest: client.FaultRequest{
			Peers: f.Peers, Direction: string(f.Direction), Action: string(f.Action), Probability: f.Probability,
		},
		CreatedAt: f.CreatedAt.UTC(),
		ExpiresAt: wire.TimePtr(f.ExpiresAt),
	}
	if f.Delay > 0 {
		out.Delay = wire.Duration(f.Delay)
	}
	if f.Jitter > 0 {
		out.Jitter = wire.Duration(f.Jitter)
	}
	if f.Duration > 0 {
		out.Duration = wire.Duration(f.Duration)
	}
	return out
}
