package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tartine/readers"
)

type metrics struct {
	reg           *prometheus.Registry
	taps          *prometheus.CounterVec
	resent        *prometheus.CounterVec
	debounced     *prometheus.CounterVec
	decisions     *prometheus.CounterVec
	requests      *prometheus.CounterVec
	delivered     *prometheus.CounterVec
	overridden    prometheus.Counter
	storeErrors   prometheus.Counter
	commitSeconds prometheus.Histogram
}

func newMetrics(b *Bridge) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.taps = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tartine_bridge_taps_total", Help: "Taps stored in the outbox, by reader."}, []string{"reader"})
	m.resent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tartine_bridge_firmware_resends_total", Help: "Firmware reads received again after they were stored."}, []string{"reader"})
	m.debounced = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tartine_bridge_debounced_total", Help: "Firmware reads dropped by debounce."}, []string{"reader"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tartine_bridge_decisions_total", Help: "Reader feedback decisions by mode (online, offline) and feedback."}, []string{"mode", "feedback"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tartine_bridge_uplink_requests_total", Help: "POST /api/v1/taps requests by result (ok, error, auth, refused: another 4xx, too_large: split)."}, []string{"result"})
	m.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tartine_bridge_taps_delivered_total", Help: "Taps answered by the server, by verdict."}, []string{"verdict"})
	m.overridden = prometheus.NewCounter(prometheus.CounterOpts{Name: "tartine_bridge_offline_overridden_total", Help: "Offline decisions the server's verdict contradicted."})
	m.storeErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "tartine_bridge_store_errors_total", Help: "Outbox commits that failed."})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tartine_bridge_commit_seconds", Help: "Duration of outbox group commits (fsync included).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)})
	f(m.taps)
	f(m.resent)
	f(m.debounced)
	f(m.decisions)
	f(m.requests)
	f(m.delivered)
	f(m.overridden)
	f(m.storeErrors)
	f(m.commitSeconds)
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tartine_bridge_outbox_depth", Help: "Taps waiting in the outbox."},
		func() float64 { return float64(b.store.Depth()) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tartine_bridge_last_contact_timestamp_seconds", Help: "Unix time of the last good server answer (0: never)."},
		func() float64 { return float64(b.lastContact.Load()) / 1e9 }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tartine_bridge_readers_connected", Help: "Readers with an open port (and, for Tartine firmware, a recent heartbeat)."},
		func() float64 {
			n := 0
			for _, s := range b.slots {
				if b.readerStatus(s).State == readers.StateConnected {
					n++
				}
			}
			return float64(n)
		}))
	return m
}

// Status is the bridge state shown on /status.
type Status struct {
	Device        string         `json:"device"`
	Server        string         `json:"server"`
	Started       time.Time      `json:"started"`
	OutboxDepth   int            `json:"outbox_depth"`
	LastContact   *time.Time     `json:"last_contact,omitempty"`
	LastError     string         `json:"last_error,omitempty"`
	BadgesCached  int            `json:"badges_cached"`
	BadgeSync     *time.Time     `json:"badge_sync,omitempty"`
	Readers       []ReaderStatus `json:"readers"`
	TapsStored    uint64         `json:"taps_stored"`
	FirmwareResnd uint64         `json:"firmware_resends"`
	// Now is the bridge's clock when the status was taken: the ages shown
	// are counted from it (the demo's bridge runs on the demo's day).
	Now time.Time `json:"now"`
}

// ReaderStatus is one reader on /status.
type ReaderStatus struct {
	readers.Status
	Station  string     `json:"station"`
	Driver   string     `json:"driver"`
	Taps     uint64     `json:"taps_stored"`
	LastTap  *time.Time `json:"last_tap,omitempty"`
	Firmware string     `json:"firmware,omitempty"`
	Uptime   string     `json:"firmware_uptime,omitempty"`
}

// StateSilent is the state of a Tartine firmware reader whose port is open
// but which has sent nothing, not even its heartbeat, for the reader's
// heartbeat_timeout: it is not connected as far as anyone can tell.
const StateSilent readers.State = "silent"

// readerStatus is one reader's status as shown: a firmware reader's
// counters come from its protocol decoder, a silent one is not connected,
// and the error of an earlier session is not shown once connected again.
func (b *Bridge) readerStatus(s *slot) ReaderStatus {
	rs := ReaderStatus{Station: s.cfg.Station, Driver: s.cfg.Driver, Taps: s.taps.Load()}
	rs.Name = s.cfg.Name
	if s.reader != nil {
		rs.Status = s.reader.Status()
	}
	if t := s.last.Load(); t != nil {
		at := t.ReadAt
		rs.LastTap = &at
	}
	if s.fw != nil {
		if hb, ok := s.fw.LastHeartbeat(); ok {
			rs.Firmware, rs.Uptime = hb.Firmware, hb.Uptime.String()
		}
		fs := s.fw.Stats()
		rs.Stats.Frames = fs.Frames
		rs.Stats.Garbage = fs.Garbage
		rs.Stats.BadChecksum = fs.BadCRC
		rs.Stats.Torn = fs.BadPayload
		rs.Stats.Protocol = fs.Unknown
		rs.Stats.Taps = s.taps.Load()
		rs.Stats.Duplicates = s.debounced.Load()
		if rs.State == readers.StateConnected {
			last := rs.Since
			if seen := s.fw.LastSeen(); seen.After(last) {
				last = seen
			}
			timeout := s.cfg.HeartbeatTimeout
			if timeout <= 0 {
				timeout = DefaultHeartbeatTimeout
			}
			if quiet := b.now().Sub(last); quiet > timeout {
				rs.State = StateSilent
				rs.LastError = fmt.Sprintf("no heartbeat for %s", quiet.Round(time.Second))
				return rs
			}
		}
	}
	if rs.State == readers.StateConnected {
		rs.LastError = ""
	}
	return rs
}

// Noise is the sum of a reader's noise counters, for the status page.
func (r ReaderStatus) Noise() uint64 {
	s := r.Stats
	return s.Garbage + s.BadChecksum + s.Torn + s.Protocol + s.Timeouts
}

// Status returns a snapshot of the bridge state.
func (b *Bridge) Status() Status {
	st := Status{Device: b.cfg.DeviceID, Server: b.cfg.ServerURL, Started: b.started, OutboxDepth: b.store.Depth(), Now: b.now()}
	if ns := b.lastContact.Load(); ns != 0 {
		t := time.Unix(0, ns)
		st.LastContact = &t
	}
	if ns := b.badgeSync.Load(); ns != 0 {
		t := time.Unix(0, ns)
		st.BadgeSync = &t
	}
	if e := b.lastError.Load(); e != nil {
		st.LastError = *e
	}
	_, st.BadgesCached, _ = b.store.BadgeCursor()
	for _, s := range b.slots {
		rs := b.readerStatus(s)
		st.TapsStored += rs.Taps
		st.FirmwareResnd += s.resent.Load()
		st.Readers = append(st.Readers, rs)
	}
	return st
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"ago": func(t *time.Time, now time.Time) string {
		if t == nil {
			return "jamais / never"
		}
		return t.Format("2006-01-02 15:04:05") + " (" + now.Sub(*t).Round(time.Second).String() + ")"
	},
}).Parse(`<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>Tartine bridge — {{.Device}}</title>
<style>body{font-family:sans-serif;margin:1em}td,th{padding:.2em .6em;text-align:left}.connected{color:green}.disconnected,.silent{color:#b00}</style>
</head><body>
<h1>Passerelle Tartine / Tartine bridge: {{.Device}}</h1>
<p>Serveur / server: {{.Server}}<br>
Dernier contact / last contact: {{ago .LastContact .Now}}<br>
{{if .LastError}}Dernière erreur / last error: {{.LastError}}<br>{{end}}
File d'attente / outbox: <b>{{.OutboxDepth}}</b> passages<br>
Badges en cache / cached badges: {{.BadgesCached}} (synchro {{ago .BadgeSync .Now}})<br>
Passages enregistrés / taps stored: {{.TapsStored}}</p>
<table><tr><th>Lecteur / reader</th><th>Poste / station</th><th>Pilote / driver</th><th>État / state</th><th>Port</th><th>Passages / taps</th><th>Lectures / reads</th><th>Doublons / repeats</th><th>Bruit / noise</th><th>Dernier / last</th><th>Erreur / error</th></tr>
{{range .Readers}}<tr><td>{{.Name}}</td><td>{{.Station}}</td><td>{{.Driver}}{{if .Firmware}} ({{.Firmware}}){{end}}</td><td class="{{.State}}">{{.State}}</td><td>{{.Path}}</td><td>{{.Taps}}</td><td>{{.Stats.Frames}}</td><td>{{.Stats.Duplicates}}</td><td>{{.Noise}}</td><td>{{ago .LastTap $.Now}}</td><td>{{.LastError}}</td></tr>
{{end}}</table>
<p><a href="/status?format=json">JSON</a> · <a href="/metrics">metrics</a></p>
</body></html>
`))

// Handler returns the local HTTP handler: /status (HTML, or JSON with
// ?format=json or Accept: application/json) and /metrics (Prometheus).
func (b *Bridge) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st := b.Status()
		if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(st)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := statusPage.Execute(w, st); err != nil {
			b.log.Error("status page", "err", err)
		}
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status", http.StatusFound)
	})
	return mux
}

// serveStatus starts the local status server; errors after start-up go to
// errc.
func (b *Bridge) serveStatus(ctx context.Context, errc chan<- error) (stop func(), err error) {
	ln, err := net.Listen("tcp", b.cfg.StatusAddr)
	if err != nil {
		return nil, fmt.Errorf("bridge: status_addr %s: %w", b.cfg.StatusAddr, err)
	}
	srv := &http.Server{Handler: b.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("bridge: status server: %w", err)
		}
	}()
	b.log.Info("status page", "url", "http://"+ln.Addr().String()+"/status")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
