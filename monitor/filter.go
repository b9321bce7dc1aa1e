package monitor

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// SubscribeOptions selects what a subscription receives.
type SubscribeOptions struct {
	// Resume with Since sends the held events with index > Since first;
	// without Resume the subscription starts at the live end.
	Resume bool
	Since  uint64
	// Snapshot sends a state.snapshot first even when no reset is needed.
	Snapshot bool
	// Types keeps events whose type starts with one of these prefixes;
	// empty keeps all.
	Types []string
	// Queue and Name drop task events of other queues / task names.
	Queue, Name string
}

// ParseQuery reads SubscribeOptions from /v1/events query parameters.
func ParseQuery(q url.Values) (SubscribeOptions, error) {
	var o SubscribeOptions
	if s := q.Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return o, fmt.Errorf("since must be a log index: %q", s)
		}
		o.Resume, o.Since = true, n
	}
	if s := q.Get("snapshot"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return o, fmt.Errorf("snapshot must be true or false: %q", s)
		}
		o.Snapshot = b
	}
	for _, v := range q["types"] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				o.Types = append(o.Types, p)
			}
		}
	}
	o.Queue, o.Name = q.Get("queue"), q.Get("name")
	return o, nil
}

func (o SubscribeOptions) wantsType(typ string) bool {
	if len(o.Types) == 0 {
		return true
	}
	for _, p := range o.Types {
		if strings.HasPrefix(typ, p) {
			return true
		}
	}
	return false
}

func (o SubscribeOptions) match(e *entry) bool {
	if !o.wantsType(e.typ) {
		return false
	}
	if e.task != nil {
		if (o.Queue != "" && e.task.Queue != o.Queue) || (o.Name != "" && e.task.Name != o.Name) {
			return false
		}
	}
	return true
}
