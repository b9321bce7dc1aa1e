package worker

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// maxOutput caps each captured output of the built-in executors.
const maxOutput = 64 << 10

// decodePayload decodes a task payload strictly; a bad payload is not
// worth retrying.
func decodePayload(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return NoRetry(fmt.Errorf("missing payload"))
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return NoRetry(fmt.Errorf("bad payload: %w", err))
	}
	return nil
}

// capped is an io.Writer keeping the first maxOutput bytes and counting
// the rest.
type capped struct {
	buf     bytes.Buffer
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	n := len(p)
	if room := maxOutput - c.buf.Len(); room < len(p) {
		c.dropped += int64(len(p) - room)
		p = p[:room]
	}
	c.buf.Write(p)
	return n, nil
}

func (c *capped) String() string { return c.buf.String() }

func (c *capped) truncated() bool { return c.dropped > 0 }
