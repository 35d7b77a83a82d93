package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	bridge "tartine/firmware-bridge"
	"tartine/firmware-bridge/sim"
	"tartine/readers"
)

// serve loads the configuration and runs the bridge until ctx ends. started,
// when not nil, receives the bridge once it is built.
func serve(ctx context.Context, path string, getenv func(string) string, log *slog.Logger, started chan<- *bridge.Bridge) error {
	cfg, err := bridge.LoadConfig(path, getenv)
	if err != nil {
		return err
	}
	st, err := bridge.OpenStore(cfg.DataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	b, err := bridge.New(cfg, st, bridge.Options{Logger: log})
	if err != nil {
		return err
	}
	if started != nil {
		started <- b
	}
	return b.Run(ctx)
}

var configTemplate = template.Must(template.New("cfg").Parse(`# written by tartine-bridge simulate
device_id   = {{printf "%q" .Device}}
secret      = {{printf "%q" .Secret}}
server_url  = {{printf "%q" .Server}}
data_dir    = {{printf "%q" .Data}}
status_addr = {{printf "%q" .Status}}
{{range $i, $r := .Readers}}
[[reader]]
name    = "sim-{{$i}}"
station = {{printf "%q" (index $.Stations $i)}}
driver  = {{printf "%q" $r.Format}}
path    = {{printf "%q" $r.Path}}
{{end}}`))

func runSimulate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	format := fs.String("format", "tartine", "reader format: rdm6300, id12la, em18, line-hex, line-dec, tartine")
	nReaders := fs.Int("readers", 1, "number of virtual readers")
	uids := fs.String("uids", "", "comma-separated hex badge ids to tap, in order (default: generated 5-byte ids)")
	count := fs.Int("count", 0, "taps per reader (0: once through --uids, or forever with --rate)")
	rate := fs.Float64("rate", 1, "taps per second per reader (0: as fast as the reader allows)")
	delay := fs.Duration("start-delay", 0, "wait before the first tap (time to start a bridge)")
	exit := fs.Bool("exit", false, "exit once every tap is emitted (and acknowledged, for tartine readers)")
	configOut := fs.String("config-out", "", "write a bridge configuration for these readers to this file")
	withBridge := fs.Bool("with-bridge", false, "also run the bridge in this process (needs --server)")
	server := fs.String("server", "http://127.0.0.1:8080", "server URL for the written configuration")
	device := fs.String("device", "bridge-demo", "device id for the written configuration")
	secret := fs.String("secret", "", "device secret for the written configuration (or "+bridge.SecretEnv+")")
	data := fs.String("data", "", "data directory for the written configuration (default: a temporary directory)")
	stations := fs.String("stations", "canteen-1", "comma-separated station codes, one per reader (the last repeats)")
	level := fs.String("log-level", "info", "bridge log level with --with-bridge")
	statusAddr := fs.String("status", bridge.DefaultStatusAddr, "status_addr for the written configuration (\"off\" disables)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	f, err := sim.ParseFormat(*format)
	if err != nil {
		return fmt.Errorf("%w: --format: %v", errUsage, err)
	}
	if *nReaders < 1 || *nReaders > 64 {
		return fmt.Errorf("%w: --readers %d out of range 1..64", errUsage, *nReaders)
	}
	var list [][]byte
	if *uids != "" {
		for i, s := range strings.Split(*uids, ",") {
			b, err := hex.DecodeString(strings.TrimSpace(s))
			if err != nil || len(b) == 0 {
				return fmt.Errorf("%w: --uids item %d %q is not hex", errUsage, i+1, s)
			}
			if _, err := encodeCheck(f, b); err != nil {
				return fmt.Errorf("%w: --uids item %d: %v", errUsage, i+1, err)
			}
			list = append(list, b)
		}
	}
	if *count == 0 && len(list) == 0 && *rate == 0 {
		return fmt.Errorf("%w: give --uids, --count or a --rate", errUsage)
	}

	var rs []*sim.Reader
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()
	for i := range *nReaders {
		r, err := sim.Open(f, sim.Options{})
		if err != nil {
			return err
		}
		rs = append(rs, r)
		fmt.Fprintf(stdout, "reader %d: %s (%s)\n", i, r.Path(), f)
	}

	var b *bridge.Bridge
	if *configOut != "" || *withBridge {
		sec := *secret
		if sec == "" {
			sec = getenv(bridge.SecretEnv)
		}
		dir := *data
		if dir == "" {
			if dir, err = os.MkdirTemp("", "tartine-bridge-sim-"); err != nil {
				return err
			}
		}
		st := strings.Split(*stations, ",")
		for len(st) < len(rs) {
			st = append(st, st[len(st)-1])
		}
		status := *statusAddr
		var sb strings.Builder
		if err := configTemplate.Execute(&sb, map[string]any{
			"Device": *device, "Secret": sec, "Server": *server, "Data": dir, "Status": status,
			"Readers": rs, "Stations": st,
		}); err != nil {
			return err
		}
		path := *configOut
		if path == "" {
			path = dir + "/bridge.toml"
		}
		if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
			return fmt.Errorf("--config-out: %w", err)
		}
		fmt.Fprintf(stdout, "config: %s\n", path)
		if *withBridge {
			log, err := newLogger(stdout, *level)
			if err != nil {
				return err
			}
			errc := make(chan error, 1)
			started := make(chan *bridge.Bridge, 1)
			bctx, cancel := context.WithCancel(ctx)
			defer func() {
				cancel()
				<-errc
			}()
			go func() { errc <- serve(bctx, path, getenv, log, started) }()
			select {
			case err := <-errc:
				errc <- err
				return err
			case b = <-started:
			}
		}
	}

	if b != nil {
		// A line reader takes the first line after a silence or a line end
		// (the port may open mid-line): tap once the bridge has the ports
		// open and has heard them quiet.
		if err := waitConnected(ctx, b); err != nil {
			return err
		}
	}
	if *delay > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*delay):
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(rs))
	base := rand.Uint32()
	var emitted atomic.Uint64
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- emit(ctx, r, i, base, list, *count, *rate, &emitted)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "all taps emitted")
	if *exit {
		if b != nil {
			if err := drain(ctx, b, emitted.Load()); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "outbox delivered")
		}
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

// waitConnected waits until every reader of the in-process bridge has its
// port open, then for a silence longer than a line reader's (50 ms).
func waitConnected(ctx context.Context, b *bridge.Bridge) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		all := true
		for _, r := range b.Status().Readers {
			all = all && r.State == readers.StateConnected
		}
		if all {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bridge readers not connected: %w", ctx.Err())
		case <-t.C:
		}
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(150 * time.Millisecond):
		return nil
	}
}

// drain waits until the in-process bridge has delivered what the readers
// emitted. Line readers have no acknowledgement: their last reads may still
// be in the serial line or the debouncer when the outbox looks empty, so the
// wait is for the bridge to have stored every read — or, as a repeated badge
// within the debounce window is stored once, for its count to stand still
// for a second with nothing left in the outbox.
func drain(ctx context.Context, b *bridge.Bridge, emitted uint64) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	last, still := uint64(0), time.Now()
	for {
		st := b.Status()
		if st.TapsStored != last {
			last, still = st.TapsStored, time.Now()
		}
		if st.OutboxDepth == 0 && (st.TapsStored >= emitted || time.Since(still) > time.Second) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bridge stored %d of %d reads, %d not delivered: %w", st.TapsStored, emitted, st.OutboxDepth, ctx.Err())
		case <-t.C:
		}
	}
}

func encodeCheck(f sim.Format, uid []byte) ([]byte, error) {
	if f == sim.FormatTartine {
		if len(uid) > 10 {
			return nil, fmt.Errorf("uid of %d bytes is too long (max 10)", len(uid))
		}
		return nil, nil
	}
	return sim.Encode(f, uid)
}

// emit taps for one reader: the list in order (repeated to count), or
// generated 5-byte ids, paced at rate per second.
func emit(ctx context.Context, r *sim.Reader, reader int, base uint32, list [][]byte, count int, rate float64, emitted *atomic.Uint64) error {
	n := count
	if n == 0 && len(list) > 0 {
		n = len(list)
	}
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		tick = t.C
	}
	for i := 0; n == 0 || i < n; i++ {
		var uid []byte
		if len(list) > 0 {
			uid = list[i%len(list)]
		} else {
			v := base + uint32(i)
			uid = []byte{byte(0x10 + reader), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
		}
		if err := r.Tap(ctx, uid); err != nil {
			return fmt.Errorf("reader %s: %w", r.Path(), err)
		}
		emitted.Add(1)
		if tick != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick:
			}
		}
	}
	return r.Flush(ctx)
}
