package worker

import (
	"context"
	"encoding/json"

	"github.com/shepherd/shepherd/api/client"
)

// echoExecutor returns the payload as the result.
func echoExecutor(_ context.Context, t client.Task) (json.RawMessage, error) {
	return t.Payload, nil
}
