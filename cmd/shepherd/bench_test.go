package main

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	ten := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", ms(7), 50, 7 * time.Millisecond},
		{"single p99", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 10", ten, 50, 5 * time.Millisecond},
		{"p90 of 10", ten, 90, 9 * time.Millisecond},
		{"p99 of 10", ten, 99, 10 * time.Millisecond},
		{"p100 of 10", ten, 100, 10 * time.Millisecond},
		{"p0 is the minimum", ten, 0, 1 * time.Millisecond},
		{"p51 of 10 rounds up", ten, 51, 6 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p99.9 of 100", hundred, 99.9, 100 * time.Millisecond},
		{"above 100 clamps", ten, 150, 10 * time.Millisecond},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: percentile(p=%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	in := []time.Duration{4 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond}
	s := summarize(in)
	if s.Count != 4 || s.P50 != 2 || s.P99 != 4 || s.Max != 4 || s.Mean != 2.5 {
		t.Errorf("summarize = %+v", s)
	}
	if in[0] != 4*time.Millisecond {
		t.Error("summarize sorted its input in place")
	}
	if (summarize(nil) != latencySummary{}) {
		t.Error("summarize(nil) is not zero")
	}
}

func TestParseProcStatCPU(t *testing.T) {
	// pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	stat := "1234 (sh ep) herd)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0"
	d, ok := parseProcStatCPU(stat)
	if !ok || d != 3*time.Second {
		t.Errorf("parseProcStatCPU = %v, %v; want 3s, true", d, ok)
	}
	if _, ok := parseProcStatCPU("garbage"); ok {
		t.Error("parseProcStatCPU accepted garbage")
	}
}

func TestParseBenchFlags(t *testing.T) {
	c, err := parseBenchFlags([]string{"--masters", "a:1,b:2", "--batch", "1"}, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Masters) != 2 || c.Batch != 1 || c.Tasks != 20000 || c.Workers != 4 || c.Capacity != 64 {
		t.Errorf("parsed %+v", c)
	}
	for _, bad := range [][]string{{"--batch", "0"}, {"--local", "0"}, {"--rate", "-1"}, {"extra"}} {
		if _, err := parseBenchFlags(bad, testWriter{t}); err == nil {
			t.Errorf("parseBenchFlags(%q) accepted", bad)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
