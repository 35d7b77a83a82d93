package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	bridge "tartine/firmware-bridge"
	"tartine/firmware-bridge/sim"
)

// demoReaders are the demo's simulated badge readers: an RDM6300 at the
// canteen line and a Tartine-firmware reader at the daycare door, on
// pseudo-terminals, read by an in-process bridge that talks to the server
// over the real device API, exactly as a bridge beside real readers would.
type demoReaders struct {
	StatusURL string
	canteen   *sim.Reader
	daycare   *sim.Reader
}

// startDemoReaders opens the virtual readers and runs the bridge until ctx
// ends. Taps are emitted by tapDemoBadges.
func startDemoReaders(ctx context.Context, log *slog.Logger, serverURL, deviceID, secret, dataDir string, now func() time.Time) (*demoReaders, error) {
	canteen, err := sim.Open(sim.FormatRDM6300, sim.Options{})
	if err != nil {
		return nil, fmt.Errorf("virtual canteen reader: %w", err)
	}
	daycare, err := sim.Open(sim.FormatTartine, sim.Options{})
	if err != nil {
		canteen.Close()
		return nil, fmt.Errorf("virtual daycare reader: %w", err)
	}
	dir := filepath.Join(dataDir, "bridge")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`# written by tartine demo
device_id   = %q
secret      = %q
server_url  = %q
data_dir    = %q
status_addr = %q

[[reader]]
name    = "canteen-line"
station = "canteen-1"
driver  = "rdm6300"
path    = %q

[[reader]]
name    = "daycare-door"
station = "daycare-1"
driver  = "tartine"
path    = %q
`, deviceID, secret, serverURL, dir, bridge.DefaultStatusAddr, canteen.Path(), daycare.Path())
	path := filepath.Join(dir, "bridge.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	bc, err := bridge.LoadConfig(path, func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	st, err := bridge.OpenStore(bc.DataDir)
	if err != nil {
		return nil, err
	}
	b, err := bridge.New(bc, st, bridge.Options{Logger: log.With("part", "bridge"), Now: now}) // the demo clock: taps of the demo day
	if err != nil {
		st.Close()
		return nil, err
	}
	go func() {
		defer st.Close()
		defer canteen.Close()
		defer daycare.Close()
		if err := b.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("demo bridge stopped", "err", err)
		}
	}()
	return &demoReaders{StatusURL: "http://" + bridge.DefaultStatusAddr + "/status", canteen: canteen, daycare: daycare}, nil
}

// tapDemoBadges taps demo badges until ctx ends: a pupil at the canteen
// line every few seconds, and a daycare check-in or check-out now and then.
func (d *demoReaders) tapDemoBadges(ctx context.Context, log *slog.Logger, badges map[string]string) {
	var uids [][]byte
	names := make([]string, 0, len(badges))
	for name := range badges {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if b, err := hex.DecodeString(badges[name]); err == nil && len(b) == 5 {
			uids = append(uids, b) // RFID badges only (the QR badge is scanned, not tapped)
		}
	}
	if len(uids) == 0 {
		return
	}
	tick := time.NewTicker(4 * time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r, uid := d.canteen, uids[rand.IntN(len(uids))]
		if n%3 == 2 {
			r = d.daycare
		}
		if err := r.Tap(ctx, uid); err != nil && ctx.Err() == nil {
			log.Warn("demo tap", "err", err)
		}
	}
}
