package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shepherd/shepherd/api/client"
)

// chromium finds the browser; CI installs Debian's chromium, so a missing
// one fails the test unless SHEPHERD_NO_BROWSER=1.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("SHEPHERD_NO_BROWSER") == "1" {
		t.Skip("no chromium and SHEPHERD_NO_BROWSER=1")
	}
	t.Fatal("chromium not found in PATH: install it (apt-get install -y chromium) or set SHEPHERD_NO_BROWSER=1 to skip the browser test")
	return ""
}

// artifactDir is where the test writes screenshots: $SHEPHERD_ARTIFACTS
// or the test's temporary directory.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("SHEPHERD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pageState is what the test reads of the dashboard's DOM.
type pageState struct {
	Status     string     `json:"status"`
	Node       string     `json:"node"`
	Addr       string     `json:"addr"`
	LastIndex  uint64     `json:"lastIndex"`
	EventCount int        `json:"eventCount"`
	Completed  int        `json:"completed"`
	Leader     string     `json:"leader"`
	LeaderRow  string     `json:"leaderRow"` // the cluster table row marked leader
	Workers    []string   `json:"workers"`
	Events     [][]string `json:"events"` // [index, type, id], newest first
	Search     string     `json:"search"`
}

const readPage = `(() => {
  const txt = (s) => (document.querySelector(s) || {}).textContent || "";
  const lead = document.querySelector("#cluster tr.leader");
  return {
    status: txt("#conn-status"), node: txt("#connected-node"), addr: txt("#connected-addr"),
    lastIndex: +txt("#last-index"), eventCount: +txt("#event-count"), completed: +txt("#count-completed"),
    leader: txt("#leader"), leaderRow: lead ? lead.dataset.master : "",
    workers: [...document.querySelectorAll("#workers tbody tr")].map((tr) => tr.dataset.workerId),
    events: [...document.querySelectorAll("#events li")].map((li) => [li.dataset.index, li.dataset.type, li.dataset.id || ""]),
    search: txt("#task-search-result"),
  };
})()`

// TestDashboardFollowsFailoverInBrowser opens the dashboard of the leader
// in headless Chromium, runs tasks, SIGKILLs that master and checks that
// the page goes on from another one with every event, none twice.
func TestDashboardFollowsFailoverInBrowser(t *testing.T) {
	exe := chromium(t)
	c := startCluster(t)
	api := client.New(c.https, client.WithRetryBudget(20*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ref := follow(t, ctx, c.survivors(c.leader)[:1])

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 1000))...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	page := c.leader
	if err := chromedp.Do(browser, chromedp.EmulateViewport(1400, 1000), chromedp.Navigate("http://"+c.addr(page)+"/")); err != nil {
		t.Fatalf("open the dashboard: %v", err)
	}
	var st pageState
	read := func() pageState {
		t.Helper()
		s, err := chromedp.Run(browser, chromedp.Evaluate[pageState](readPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return s
	}
	until := func(what string, timeout time.Duration, cond func(pageState) bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for st = read(); !cond(st); st = read() {
			if time.Now().After(deadline) {
				shoot(t, browser, "dashboard-failed.png")
				t.Fatalf("timed out after %v waiting for the page to show %s; it shows %+v", timeout, what, st)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	until("a live connection to "+page, 15*time.Second, func(s pageState) bool {
		return s.Status == "connected" && s.Node == page && s.LeaderRow == page && len(s.Workers) == 1
	})

	ids := submitEcho(t, api, "page-before", 20)
	until("20 completed tasks and their events", 30*time.Second, func(s pageState) bool {
		return s.Completed == 20 && countType(s, "task.completed") == 20
	})
	shoot(t, browser, "dashboard-before-kill.png")
	before := st

	killed := c.killLeader(t)
	until("the page reading another master", 20*time.Second, func(s pageState) bool {
		return s.Status == "connected" && s.Node != "" && s.Node != killed
	})
	t.Logf("page moved from %s to %s (%s)", killed, st.Node, st.Addr)
	ids = append(ids, submitEcho(t, api, "page-after", 10)...)
	waitFor(t, 30*time.Second, "every task completed", func() bool { return allDone(api, ids) })
	// Cross-origin reads (CORS) from the page's new master: the cluster
	// table shows the new leader, and task search answers.
	last := ids[len(ids)-1]
	if err := chromedp.Do(browser, chromedp.SetValue(chromedp.CSS("#task-search-id"), strconv.FormatInt(last, 10)),
		chromedp.Click(chromedp.CSS("#task-search-button"))); err != nil {
		t.Fatalf("search a task: %v", err)
	}
	until("30 completed, the new leader and the searched task", 20*time.Second, func(s pageState) bool {
		return s.Completed == 30 && countType(s, "task.completed") == 30 && s.LeaderRow == c.leader &&
			strings.Contains(s.Search, fmt.Sprintf(`"id": %d`, last)) && strings.Contains(s.Search, `"completed"`)
	})
	end := st.LastIndex
	waitFor(t, 10*time.Second, "the reference stream at the page's index", func() bool { return ref.lastIndex() >= end })

	// No gap, no duplicate: the page's event list (since its snapshot) is
	// exactly what a survivor streamed.
	var got []string
	var start uint64
	for i := len(st.Events) - 1; i >= 0; i-- {
		e := st.Events[i]
		switch {
		case e[1] == "state.snapshot":
			// Lines before it are history the snapshot already covers.
			start, _ = strconv.ParseUint(e[0], 10, 64)
			got = got[:0]
		case e[0] != "" && e[1] != "stream.reset":
			got = append(got, e[0]+" "+e[1]+" "+e[2])
		}
	}
	if start == 0 || start < ref.start {
		t.Fatalf("page snapshot at %d, reference from %d", start, ref.start)
	}
	want := ref.window(start, end)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the page shows %d events after its snapshot at %d, a survivor streamed %d up to %d; first difference %s",
			len(got), start, len(want), end, firstDiff(got, want))
	}
	if st.EventCount != len(got) || st.EventCount <= before.EventCount {
		t.Fatalf("event counter %d (before the kill %d), list %d", st.EventCount, before.EventCount, len(got))
	}
	t.Logf("page: %d events from index %d to %d, identical to %s's stream", len(got), start+1, end, ref.master)
	shoot(t, browser, "dashboard-after-failover.png")
}

func countType(s pageState, typ string) int {
	n := 0
	for _, e := range s.Events {
		if e[1] == typ {
			n++
		}
	}
	return n
}

// shoot saves a full-page PNG screenshot as a test artifact.
func shoot(t *testing.T, browser context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(browser, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}
