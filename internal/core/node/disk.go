package node

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronhost/ronhost/internal/pebbledb"
)

// diskEvery is how often the node looks at its databases' disk: a
// database opened read-only on a full disk is reopened for writing once
// space is back (a write does the same at once), and changes are logged.
const diskEvery = 5 * time.Second

// database is one role's database as the disk report sees it.
type database struct {
	name    string
	state   func() pebbledb.State
	recover func() error
}

// databases lists the databases this process opened.
func (n *Node) databases() []database {
	var out []database
	if n.store != nil {
		out = append(out, database{"store", n.store.Disk, n.store.Recover})
	}
	if n.index != nil {
		out = append(out, database{"index", n.index.Disk, n.index.Recover})
	}
	if n.ledger != nil {
		out = append(out, database{"ledger", n.ledger.Disk, n.ledger.Recover})
	}
	if n.mailbox != nil {
		out = append(out, database{"mailbox", n.mailbox.Disk, n.mailbox.Recover})
	}
	return out
}

// DiskReport is the "disk" part of /readyz: whether writes are accepted,
// and why not.
type DiskReport struct {
	Writable     bool         `json:"writable"`
	FreeBytes    int64        `json:"free_bytes"`     // on the data directory's filesystem; -1 unknown
	MinFreeBytes int64        `json:"min_free_bytes"` // node.min_free
	Databases    []DiskDBInfo `json:"databases"`
}

// DiskDBInfo is one database's state.
type DiskDBInfo struct {
	Name     string `json:"name"`
	ReadOnly bool   `json:"read_only,omitempty"` // opened read-only on a full disk, until space returns
	Failed   string `json:"failed,omitempty"`    // a fatal write error: writes need a restart
}

// Disk reports the disk's state for writes.
func (n *Node) Disk() DiskReport {
	r := DiskReport{Writable: true, FreeBytes: -1, MinFreeBytes: int64(n.opts.Config.Node.MinFree), Databases: []DiskDBInfo{}}
	for _, db := range n.databases() {
		st := db.state()
		info := DiskDBInfo{Name: db.name, ReadOnly: st.ReadOnly}
		if st.Failed != nil {
			info.Failed = st.Failed.Error()
		}
		if st.Free >= 0 && (r.FreeBytes < 0 || st.Free < r.FreeBytes) {
			r.FreeBytes = st.Free
		}
		if st.ReadOnly || st.Failed != nil {
			r.Writable = false
		}
		r.Databases = append(r.Databases, info)
	}
	if r.FreeBytes >= 0 && r.FreeBytes < r.MinFreeBytes {
		r.Writable = false
	}
	return r
}

// diskLoop reopens read-only databases once space is back and logs when
// the disk fills and empties.
func (n *Node) diskLoop(ctx context.Context) {
	t := time.NewTicker(diskEvery)
	defer t.Stop()
	was := true
	for {
		for _, db := range n.databases() {
			if db.state().ReadOnly {
				_ = db.recover()
			}
		}
		r := n.Disk()
		switch {
		case was && !r.Writable:
			n.log.Warn("disk full: writes are refused (507) until space is freed; reads go on", "free", r.FreeBytes, "min_free", r.MinFreeBytes, "databases", r.Databases)
		case !was && r.Writable:
			n.log.Info("disk space is back: writes are accepted again", "free", r.FreeBytes)
		}
		was = r.Writable
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// stopTimeout is node.stop_timeout (8 s when unset).
func (n *Node) stopTimeout() time.Duration {
	if d := n.opts.Config.Node.StopTimeout.D(); d > 0 {
		return d
	}
	return 8 * time.Second
}

// diskCollector exports the disk report.
type diskCollector struct {
	n                       *Node
	free, minFree, writable *prometheus.Desc
	readOnly, failed        *prometheus.Desc
}

func newDiskCollector(n *Node) *diskCollector {
	return &diskCollector{
		n:        n,
		free:     prometheus.NewDesc("ron_disk_free_bytes", "Free bytes on the data directory's filesystem.", nil, nil),
		minFree:  prometheus.NewDesc("ron_disk_min_free_bytes", "The free space writes leave (node.min_free).", nil, nil),
		writable: prometheus.NewDesc("ron_disk_writable", "1 while writes are accepted, 0 while the disk is full (writes get 507).", nil, nil),
		readOnly: prometheus.NewDesc("ron_db_read_only", "1 while the database is open read-only (it opened on a full disk).", []string{"db"}, nil),
		failed:   prometheus.NewDesc("ron_db_failed", "1 after a fatal write error: the database refuses writes until a restart.", []string{"db"}, nil),
	}
}

func (c *diskCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.free, c.minFree, c.writable, c.readOnly, c.failed} {
		ch <- d
	}
}

func (c *diskCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.n.Disk()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	ch <- prometheus.MustNewConstMetric(c.free, prometheus.GaugeValue, float64(r.FreeBytes))
	ch <- prometheus.MustNewConstMetric(c.minFree, prometheus.GaugeValue, float64(r.MinFreeBytes))
	ch <- prometheus.MustNewConstMetric(c.writable, prometheus.GaugeValue, b(r.Writable))
	for _, db := range r.Databases {
		ch <- prometheus.MustNewConstMetric(c.readOnly, prometheus.GaugeValue, b(db.ReadOnly), db.Name)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, b(db.Failed != ""), db.Name)
	}
}
