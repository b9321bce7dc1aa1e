package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

type sleepPayload struct {
	Duration string `json:"duration"`
}

// sleepExecutor waits for the payload's duration, or until ctx ends.
func sleepExecutor(ctx context.Context, t client.Task) (json.RawMessage, error) {
	var p sleepPayload
	if err := decodePayload(t.Payload, &p); err != nil {
		return nil, err
	}
	d, err := time.ParseDuration(p.Duration)
	if err != nil || d < 0 {
		return nil, NoRetry(fmt.Errorf("bad duration %q", p.Duration))
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, nil
	}
}
