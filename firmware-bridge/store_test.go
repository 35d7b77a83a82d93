package bridge

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"tartine/internal/deviceapi"
)

func TestStoreOrderAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 11, 52, 3, 120e6, time.FixedZone("CET", 3600))
	var entries []Entry
	for i := range 10 {
		entries = append(entries, Entry{Record: &Record{ID: fmt.Sprintf("id-%d", i), Station: "c1", UID: fmt.Sprintf("U%d", i), Tech: "em4100", ReadAt: now}})
	}
	if _, err := s.Append(entries[:4], now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(entries[4:], now); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenStore(dir); !errors.Is(err, ErrLocked) {
		t.Errorf("second OpenStore = %v, want ErrLocked", err)
	}
	head, err := s.Head(3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Remove([]uint64{head[0].Seq, head[2].Seq}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkOffline(head[1].Seq, deviceapi.FeedbackWarn); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Depth() != 8 {
		t.Fatalf("depth after reopen %d, want 8", s.Depth())
	}
	all, err := s.Head(100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range all {
		ids = append(ids, r.ID)
	}
	if got, want := fmt.Sprint(ids), "[id-1 id-3 id-4 id-5 id-6 id-7 id-8 id-9]"; got != want {
		t.Errorf("outbox order %s, want %s", got, want)
	}
	if !all[0].Offline || all[0].Local != deviceapi.FeedbackWarn || all[1].Offline {
		t.Errorf("offline marks: %+v %+v", all[0], all[1])
	}
	if !all[0].ReadAt.Equal(now) {
		t.Errorf("read_at %v, want %v", all[0].ReadAt, now)
	}
}

func TestStoreSeenDedup(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	k := SeenKey{Reader: "fw", Boot: 7, Seq: 1}
	first := &Record{ID: "first", UID: "A"}
	dup, err := s.Append([]Entry{{Record: first, Seen: &k}}, now)
	if err != nil || dup[0] {
		t.Fatalf("first append dup=%v err=%v", dup, err)
	}
	again := &Record{ID: "second", UID: "A"}
	other := &Record{ID: "third", UID: "B"}
	k2 := SeenKey{Reader: "fw", Boot: 8, Seq: 1} // same seq after a firmware reboot
	dup, err = s.Append([]Entry{{Record: again, Seen: &k}, {Record: other, Seen: &k2}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !dup[0] || dup[1] || again.ID != "first" {
		t.Errorf("resend: dup=%v id=%s, want the first id back and the reboot read stored", dup, again.ID)
	}
	if s.Depth() != 2 {
		t.Errorf("depth %d, want 2", s.Depth())
	}
	if n, err := s.PruneSeen(now.Add(time.Hour)); err != nil || n != 2 {
		t.Errorf("PruneSeen = %d, %v; want 2", n, err)
	}
}

func TestStoreBadges(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.ApplyBadges(BadgeDelta{Cursor: "c1", Badges: []Badge{{UID: "A", Status: deviceapi.BadgeActive, Name: "Emma"}, {UID: "B", Status: deviceapi.BadgeBlocked}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyBadges(BadgeDelta{Cursor: "c2", Badges: []Badge{{UID: "A", Status: deviceapi.BadgeRemoved}}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Badge("A"); ok {
		t.Error("removed badge still cached")
	}
	if b, ok, _ := s.Badge("B"); !ok || b.Status != deviceapi.BadgeBlocked {
		t.Errorf("badge B = %+v %v", b, ok)
	}
	if c, n, _ := s.BadgeCursor(); c != "c2" || n != 1 {
		t.Errorf("cursor %q n %d", c, n)
	}
}
