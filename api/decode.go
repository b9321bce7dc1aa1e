package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// bodyRule says whether an endpoint's body may be empty.
type bodyRule bool

const (
	bodyRequired bodyRule = false
	bodyOptional bodyRule = true
)

// decode reads the request body as exactly one JSON value into v: unknown
// fields, trailing data and bodies over the limit are rejected. An empty
// body leaves v untouched when rule is bodyOptional.
func (s *Server) decode(c echo.Context, v any, rule bodyRule) error {
	r := c.Request()
	if r.Body == nil || r.Body == http.NoBody {
		return emptyBody(rule)
	}
	// The underlying writer lets net/http close the connection after a
	// too-large body instead of draining it.
	body := http.MaxBytesReader(c.Response().Writer, r.Body, s.cfg.BodyLimit)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return emptyBody(rule)
		}
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("request body must hold a single JSON value")
	}
	return nil
}

func emptyBody(rule bodyRule) error {
	if rule == bodyOptional {
		return nil
	}
	return badRequest("request body is required")
}

// decodeError turns a json error into a message that names the problem.
func decodeError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		pe  *time.ParseError
	)
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.As(err, &se):
		return badRequest("malformed JSON at offset %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field == "" {
			return badRequest("request body must be %s, not %s", jsonKind(te.Type), te.Value)
		}
		return badRequest("field %q must be %s, not %s", te.Field, jsonKind(te.Type), te.Value)
	case errors.As(err, &pe):
		return badRequest("malformed time %q: want RFC 3339, like 2030-01-02T15:04:05Z", pe.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON: unexpected end of body")
	}
	// encoding/json has no typed error for unknown fields.
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badRequest("unknown field %s", field)
	}
	return badRequest("invalid request body: %v", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names a Go type the way a JSON user thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.String()
}

// taskID parses the :id path parameter of a task route.
func taskID(c echo.Context) (int64, error) {
	raw := c.Param("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("task id must be a positive integer, not %q", raw)
	}
	return id, nil
}

// workerID parses the :id path parameter of a worker route.
func workerID(c echo.Context) (string, error) {
	raw := c.Param("id")
	id, err := url.PathUnescape(raw)
	if err != nil {
		return "", badRequest("worker id %q is not a valid path segment", raw)
	}
	if err := checkWorkerID(id); err != nil {
		return "", err
	}
	return id, nil
}

// intQuery parses an optional integer query parameter; def when absent.
func intQuery(c echo.Context, name string, def int64) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, badRequest("query parameter %s must be an integer, not %q", name, v)
	}
	return n, nil
}
