package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	bridge "tartine/firmware-bridge"
)

var brussels = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		panic(err)
	}
	return loc
}()

// BenchmarkReplayBacklogToRealServer measures how fast a bridge empties a
// backlog of taps (as after a long outage) into the real server: `tartine
// serve` on PostgreSQL, each tap decided and booked in the ledger. The
// backlog is 20,000 taps by default; TARTINE_REPLAY_BACKLOG=100000 gives the
// issue's figure. Taps cycle over the pupils' badges on the canteen and
// daycare stations of the load tenant, read 50 ms apart on its open
// virtual day (meals, duplicates, daycare check-in/out, already-served).
//
//	go test -run '^$' -bench ReplayBacklogToRealServer -benchtime 1x ./internal/e2e
func BenchmarkReplayBacklogToRealServer(b *testing.B) {
	backlog := 20000
	if v, err := strconv.Atoi(os.Getenv("TARTINE_REPLAY_BACKLOG")); err == nil && v > 0 {
		backlog = v
	}
	for b.Loop() {
		b.StopTimer()
		f := newFixture(b, 1, 2000)
		day, err := time.ParseInLocation(time.DateOnly, f.setup.Day, brussels)
		if err != nil {
			b.Fatalf("virtual day %q: %v", f.setup.Day, err)
		}
		start := day.Add(8 * time.Hour)
		dev := f.setup.Devices[0]
		cfg := bridge.Config{DeviceID: dev.ID, Secret: dev.Secret, ServerURL: "http://" + f.srv.addr, DataDir: b.TempDir(), StatusAddr: "off",
			Uplink:  bridge.UplinkConfig{MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
			Offline: bridge.OfflineConfig{BadgeRefresh: time.Hour},
			Readers: []bridge.ReaderConfig{{Name: "r", Station: f.setup.Canteen[0], Driver: "line-hex", Path: "/nonexistent/tty"}},
		}
		cfg.SetDefaults()
		st, err := bridge.OpenStore(cfg.DataDir)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < backlog; i += 1000 {
			entries := make([]bridge.Entry, 0, 1000)
			for j := i; j < min(i+1000, backlog); j++ {
				station := f.setup.Canteen[0]
				if j%5 == 4 {
					station = f.setup.Daycare[0]
				}
				entries = append(entries, bridge.Entry{Record: &bridge.Record{
					ID: fmt.Sprintf("0190f1c2-0000-7000-8000-%012d", j), Station: station, Reader: "r",
					UID: f.setup.Badges[j%len(f.setup.Badges)], Tech: "em4100", Offline: true,
					ReadAt: start.Add(time.Duration(j) * 50 * time.Millisecond)}})
			}
			if _, err := st.Append(entries, time.Now()); err != nil {
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
			time.Sleep(5 * time.Millisecond)
		}
		elapsed := time.Since(t0)
		b.StopTimer()
		cancel()
		<-done
		st.Close()
		if _, ids, _ := f.tapCounts(b); ids != backlog {
			b.Fatalf("server has %d tap ids, want %d", ids, backlog)
		}
		b.ReportMetric(float64(backlog)/elapsed.Seconds(), "taps/s")
		f.srv.stop() // logs how the taps were grouped
		for _, line := range strings.Split(f.srv.logs.String(), "\n") {
			if strings.Contains(line, "tap groups") {
				b.Log(line)
			}
		}
		f.srv.start()
		b.StartTimer()
	}
}
