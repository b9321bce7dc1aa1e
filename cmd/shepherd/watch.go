package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/shepherd/shepherd/api/client"
)

// runWatch is `shepherd watch`: the dashboard's live view in the terminal.
// It follows /v1/events of one master and, when that master goes away,
// resumes on another with since (api/client.EventStream), redrawing the
// screen every --interval.
func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, masters := clientFlags("watch", stderr)
	interval := fs.Duration("interval", time.Second, "time between redraws")
	iterations := fs.Int("iterations", 0, "exit after this many redraws (0: run until interrupted)")
	once := fs.Bool("once", false, "draw once, when the first state arrived, and exit (--iterations 1)")
	events := fs.Int("events", 15, "recent events shown")
	clearEach := fs.Bool("clear", true, "clear the screen before each redraw (false: print frames one after another)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *once {
		*iterations = 1
	}
	if *interval <= 0 || *iterations < 0 || *events < 0 {
		return errors.New("--interval must be positive, --iterations and --events not negative")
	}
	list := splitList(*masters)
	if len(list) == 0 {
		return errors.New("--masters names no master")
	}
	w := &watcher{c: client.New(list), view: newWatchView(*events), out: stdout, clear: *clearEach,
		readers: map[string]*client.Client{}}
	return w.run(ctx, *interval, *iterations)
}

// watcher runs the stream and the redraw loop of one `shepherd watch`.
type watcher struct {
	c     *client.Client
	view  *watchView
	out   io.Writer
	clear bool
	// readers are one-master clients for GET /v1/cluster, by base URL.
	readers map[string]*client.Client
}

func (w *watcher) run(ctx context.Context, interval time.Duration, iterations int) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		for _, r := range w.readers {
			r.Close()
		}
	}()
	defer wg.Wait()
	defer cancel()
	first := make(chan struct{})
	wg.Add(1)
	go func() { defer wg.Done(); w.follow(ctx, first) }()

	// The first frame waits for the first state (or one interval), so a
	// single frame is worth reading.
	select {
	case <-first:
	case <-time.After(interval):
	case <-ctx.Done():
		return nil
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for frame := 1; ; frame++ {
		w.refreshCluster(ctx, interval)
		if err := w.view.render(w.out, time.Now(), w.clear); err != nil {
			return fmt.Errorf("watch: draw: %w", err)
		}
		if iterations > 0 && frame >= iterations {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// follow feeds the view from the event stream until ctx ends; first is
// closed once the first state.snapshot is in.
func (w *watcher) follow(ctx context.Context, first chan<- struct{}) {
	stream := w.c.Events(client.EventOptions{Snapshot: true})
	defer stream.Close()
	for {
		ev, err := stream.Next(ctx)
		if err != nil {
			return // ctx ended
		}
		w.view.connection(stream.Master(), stream.Reconnects(), stream.CloseCode())
		w.view.apply(ev)
		if ev.Type == "state.snapshot" && first != nil {
			close(first)
			first = nil
		}
	}
}

// refreshCluster reads the masters' roles from the master being watched;
// the stream carries leader changes but not the followers' states.
func (w *watcher) refreshCluster(ctx context.Context, timeout time.Duration) {
	addr := w.view.Addr()
	if addr == "" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 2*time.Second))
	defer cancel()
	r := w.readers[addr]
	if r == nil {
		r = client.New([]string{addr}, client.WithRetryBudget(0))
		w.readers[addr] = r
	}
	st, err := r.ClusterStatus(ctx)
	if err == nil {
		w.view.SetCluster(st)
	}
}
