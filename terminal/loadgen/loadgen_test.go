package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tartine/terminal"
)

// An open-loop run writes one line per measured request, whose taps add up
// to the report's, and reports the requests' round trips and its own delay
// in sending apart from the taps' latency, which includes both.
func TestOpenLoopRequestLines(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Taps []terminal.Tap `json:"taps"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out := struct {
			Results []terminal.Result `json:"results"`
		}{}
		for _, tap := range in.Taps {
			out.Results = append(out.Results, terminal.Result{ID: tap.ID, Verdict: "accepted"})
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	defer srv.Close()
	setup := Setup{Devices: []Device{{ID: "d1", Secret: "s1"}, {ID: "d2", Secret: "s2"}},
		Badges: []string{"E000000001", "E000000002"}, Canteen: []string{"c1"}, Daycare: []string{"g1"}, Day: "2026-11-30"}
	var lines bytes.Buffer
	rep, err := Run(context.Background(), Config{URL: srv.URL, Setup: setup, Duration: 300 * time.Millisecond, Rate: 400, Requests: &lines})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Requests == 0 || rep.Latency != "tap" {
		t.Fatalf("report %+v: want requests, no errors, latency per tap", rep)
	}
	var n, taps int64
	sc := bufio.NewScanner(&lines)
	for sc.Scan() {
		var dev int
		var sent, rtt, k, waited int64
		if _, err := fmt.Sscan(sc.Text(), &dev, &sent, &rtt, &k, &waited); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if dev < 0 || dev > 1 || k < 1 || rtt < 0 || waited < 0 {
			t.Errorf("line %q: want device 0 or 1, taps, durations ≥ 0", sc.Text())
		}
		n++
		taps += k
	}
	if n != rep.Requests || taps != rep.Taps {
		t.Errorf("%d lines with %d taps, report %d requests with %d taps", n, taps, rep.Requests, rep.Taps)
	}
	// A tap waits for its request's answer at least: the slowest tap is no
	// faster than the slowest request, nor than the generator's delay.
	if rep.RequestMaxms <= 0 || rep.RequestMaxms > rep.Maxms || rep.SendLateMaxms > rep.Maxms || rep.RequestP50ms > rep.RequestP99ms {
		t.Errorf("requests p50 %.2f p99 %.2f max %.2f ms, sending delay max %.2f ms, taps max %.2f ms",
			rep.RequestP50ms, rep.RequestP99ms, rep.RequestMaxms, rep.SendLateMaxms, rep.Maxms)
	}
}
