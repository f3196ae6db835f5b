package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one gateway's collectors (never registered globally: two
// nodes may run in one process).
type metrics struct {
	requests   *prometheus.CounterVec
	inFlight   prometheus.Gauge
	sent       prometheus.Counter
	overloaded prometheus.Counter
	duration   *prometheus.HistogramVec
}

func newMetrics() *metrics {
	return &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ron_gateway_requests_total", Help: "HTTP requests answered, by route and status class (aborted: a stream cut mid-body)."},
			[]string{"route", "class"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ron_gateway_in_flight", Help: "HTTP requests being served."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ron_gateway_sent_bytes_total", Help: "Content bytes written in response bodies of /o and /r."}),
		overloaded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ron_gateway_overloaded_total", Help: "Requests refused with 429 because max_concurrent were in flight."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ron_gateway_request_duration_seconds", Help: "Time to answer an HTTP request, body included, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}},
			[]string{"route"}),
	}
}

func (m *metrics) observe(route, class string, d time.Duration) {
	m.requests.WithLabelValues(route, class).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}

func statusClass(status int) string {
	switch {
	case status == 0, status < 300:
		return "2xx"
	case status < 400:
		return "3xx"
	case status < 500:
		return "4xx"
	}
	return "5xx"
}

// Collectors returns the gateway's Prometheus collectors, for the node to
// register in its registry.
func (g *Gateway) Collectors() []prometheus.Collector {
	m := g.metrics
	return []prometheus.Collector{m.requests, m.inFlight, m.sent, m.overloaded, m.duration}
}
