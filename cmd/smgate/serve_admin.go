package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer serves health, readiness and metrics on admin.listen.
type adminServer struct {
	srv *http.Server
}

func startAdmin(g *gateway, ls *listeners) (frontDoor, error) {
	if ls.admin == nil {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := g.sink.Healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: usage log cannot be written\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if gatherer, ok := g.reg.(prometheus.Gatherer); ok {
		mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	s := &adminServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}}
	go func() {
		if err := s.srv.Serve(ls.admin); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error().Err(err).Msg("admin listener stopped")
		}
	}()
	return s, nil
}

func (s *adminServer) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
