package monitor

import "testing"

func entries(indexes ...uint64) []*entry {
	out := make([]*entry, len(indexes))
	for i, x := range indexes {
		out[i] = &entry{index: x, typ: "task.submitted"}
	}
	return out
}

func TestRingKeepsOrderAndEvictsOldest(t *testing.T) {
	r := newRing(4)
	r.append(entries(1, 2, 2, 3))
	if tail := r.append(entries(4, 5)); tail != 2 {
		t.Fatalf("tail = %d, want 2", tail)
	}
	got, ok := r.read(2, 10, nil)
	if !ok {
		t.Fatal("read from the tail reported overtaken")
	}
	var idx []uint64
	for _, e := range got {
		idx = append(idx, e.index)
	}
	if want := []uint64{2, 3, 4, 5}; !equalU64(idx, want) {
		t.Fatalf("held %v, want %v", idx, want)
	}
	if _, ok := r.read(1, 10, nil); ok {
		t.Fatal("read of an evicted seq succeeded")
	}
	// Index 2 was half evicted: since=1 lost events, since=2 did not.
	tests := []struct {
		since uint64
		seq   uint64
		lost  bool
	}{{0, 2, true}, {1, 2, true}, {2, 3, false}, {3, 4, false}, {5, 6, false}, {9, 6, false}}
	for _, tc := range tests {
		seq, lost, oldest := r.seek(tc.since)
		if seq != tc.seq || lost != tc.lost || oldest != 2 {
			t.Errorf("seek(%d) = %d,%v,%d; want %d,%v,2", tc.since, seq, lost, oldest, tc.seq, tc.lost)
		}
	}
}

func TestRingDiscardAll(t *testing.T) {
	r := newRing(8)
	r.append(entries(1, 2, 3))
	r.discardAll(10)
	if _, ok := r.read(0, 10, nil); ok {
		t.Fatal("old cursor still readable after discard")
	}
	if _, lost, _ := r.seek(9); !lost {
		t.Fatal("since below the restore point not reported lost")
	}
	if seq, lost, _ := r.seek(10); lost || seq != 3 {
		t.Fatalf("seek(10) = %d,%v", seq, lost)
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
