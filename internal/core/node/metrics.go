package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/ronhost/ronhost/internal/plugins"
)

// pluginCollector exports each installed plugin's counters.
type pluginCollector struct {
	router                                  *plugins.Router
	calls, memoHits, rejected, faults, quar *prometheus.Desc
	instances                               *prometheus.Desc
}

func newPluginCollector(r *plugins.Router) *pluginCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("ron_plugin_"+name, help, []string{"tld", "plugin"}, nil)
	}
	return &pluginCollector{
		router:    r,
		calls:     d("calls_total", "Calls answered, memo hits included."),
		memoHits:  d("memo_hits_total", "Calls answered from the memo."),
		rejected:  d("rejected_total", "Calls answered with status 1."),
		faults:    d("faults_total", "Plugin faults (trap, timeout, memory, exit, bad output)."),
		quar:      d("quarantined", "1 while the plugin is quarantined after repeated faults."),
		instances: d("instances", "Live instances in the plugin's pool."),
	}
}

func (c *pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.calls, c.memoHits, c.rejected, c.faults, c.quar, c.instances} {
		ch <- d
	}
}

func (c *pluginCollector) Collect(ch chan<- prometheus.Metric) {
	for _, tld := range c.router.TLDs() {
		p, err := c.router.Plugin(tld)
		if err != nil {
			continue
		}
		s, h := p.Stats(), p.Hash()
		q := 0.0
		if s.Quarantined {
			q = 1
		}
		ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(s.Calls), tld, h)
		ch <- prometheus.MustNewConstMetric(c.memoHits, prometheus.CounterValue, float64(s.MemoHits), tld, h)
		ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(s.Rejected), tld, h)
		ch <- prometheus.MustNewConstMetric(c.faults, prometheus.CounterValue, float64(s.Faults), tld, h)
		ch <- prometheus.MustNewConstMetric(c.quar, prometheus.GaugeValue, q, tld, h)
		ch <- prometheus.MustNewConstMetric(c.instances, prometheus.GaugeValue, float64(s.Instances), tld, h)
	}
}
