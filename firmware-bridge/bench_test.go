package bridge_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	bridge "tartine/firmware-bridge"
	"tartine/firmware-bridge/bridgetest"
	"tartine/readers"
)

func benchRecord(i int) *bridge.Record {
	return &bridge.Record{ID: fmt.Sprintf("0190f1c2-0000-7000-8000-%012d", i), Station: "canteen-1", Reader: "r",
		UID: fmt.Sprintf("10%08X", i), Tech: "em4100", ReadAt: time.Now()}
}

// BenchmarkOutboxAppend: taps/s into the outbox, each commit fsync'd.
// "single" is one tap per transaction (one reader, one tap at a time);
// "group-N" is N taps per transaction (the commit loop batches whatever
// arrived while the previous fsync ran).
func BenchmarkOutboxAppend(b *testing.B) {
	for _, group := range []int{1, 16, 128} {
		name := "single"
		if group > 1 {
			name = fmt.Sprintf("group-%d", group)
		}
		b.Run(name, func(b *testing.B) {
			st, err := bridge.OpenStore(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			now := time.Now()
			i := 0
			b.ResetTimer()
			for b.Loop() {
				entries := make([]bridge.Entry, group)
				for j := range entries {
					i++
					entries[j] = bridge.Entry{Record: benchRecord(i), Seen: &bridge.SeenKey{Reader: "r", Boot: 1, Seq: uint32(i)}}
				}
				if _, err := st.Append(entries, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "taps/s")
		})
	}
}

// BenchmarkBridgeSubmit: taps/s through the whole intake path (Submit →
// commit loop with group commit → fsync) with 4 concurrent readers.
func BenchmarkBridgeSubmit(b *testing.B) {
	srv, err := bridgetest.New(map[string]string{testDevice: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.Stop() // measure intake only: nothing is sent
	cfg := benchConfig(b, srv.URL)
	st, err := bridge.OpenStore(cfg.DataDir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	br, err := bridge.New(cfg, st, bridge.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- br.Run(ctx) }()
	defer func() { cancel(); <-done }()
	b.ResetTimer()
	b.SetParallelism(2) // 2 × GOMAXPROCS goroutines, like several readers
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if err := br.Submit(ctx, "r", readers.Tap{UID: fmt.Sprintf("%p%d", &i, i), Tech: readers.TechEM4100}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	for st.Depth() < b.N {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "taps/s")
}

func benchConfig(b *testing.B, url string) bridge.Config {
	c := bridge.Config{
		DeviceID: testDevice, Secret: testSecret, ServerURL: url, DataDir: b.TempDir(), StatusAddr: "off",
		Uplink:  bridge.UplinkConfig{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		Offline: bridge.OfflineConfig{BadgeRefresh: time.Hour},
		Readers: []bridge.ReaderConfig{{Name: "r", Station: "canteen-1", Driver: "line-hex", Path: "/nonexistent/tty"}},
	}
	c.SetDefaults()
	return c
}

// BenchmarkReplay100k: a 100,000-tap backlog (as after a long outage) is
// replayed to a local recording server that verifies every HMAC signature;
// reports taps/s from the first request to an empty outbox.
func BenchmarkReplay100k(b *testing.B) {
	const backlog = 100000
	for b.Loop() {
		b.StopTimer()
		srv, err := bridgetest.New(map[string]string{testDevice: testSecret})
		if err != nil {
			b.Fatal(err)
		}
		cfg := benchConfig(b, srv.URL)
		st, err := bridge.OpenStore(cfg.DataDir)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for i := 0; i < backlog; i += 1000 {
			entries := make([]bridge.Entry, 1000)
			for j := range entries {
				entries[j] = bridge.Entry{Record: benchRecord(i + j)}
			}
			if _, err := st.Append(entries, now); err != nil {
				b.Fatal(err)
			}
		}
		br, err := bridge.New(cfg, st, bridge.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		t0 := time.Now()
		go func() { done <- br.Run(ctx) }()
		for st.Depth() > 0 {
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(t0)
		b.StopTimer()
		cancel()
		<-done
		if got := srv.Stats().Unique; got != backlog {
			b.Fatalf("server has %d taps, want %d", got, backlog)
		}
		b.ReportMetric(backlog/elapsed.Seconds(), "taps/s")
		st.Close()
		srv.Close()
		b.StartTimer()
	}
}
