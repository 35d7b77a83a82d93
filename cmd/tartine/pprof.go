package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves the runtime profiles (CPU, heap, goroutines, execution
// trace: net/http/pprof) on addr, a listener of its own outside the router,
// when TARTINE_PPROF_ADDR names one (e.g. 127.0.0.1:6060; never a public
// address): how the portal rush was profiled (docs/PERFORMANCE.md, issue
// 17). The returned function stops it.
func startPprof(log *slog.Logger, addr string) func() {
	if addr == "" {
		return func() {}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Error("TARTINE_PPROF_ADDR: profiles not served", "addr", addr, "err", err)
		return func() {}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("runtime profiles served", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }
}
