package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/gateway"
)

// streamBuffer is how many events a slow stream holds before it drops
// (and says how many it dropped).
const streamBuffer = 256

// writeTimeout bounds one write to a stream: a reader that stops reading is
// cut rather than holding its handler.
const writeTimeout = 30 * time.Second

type event struct {
	subject string
	data    []byte
}

// serveEvents streams every ron.evt.> event as a server-sent event:
//
//	id: <n>
//	event: ron.evt
//	data: {"subject":"ron.evt.manifest.published","event":{…}}
//
// with a comment as heartbeat, and "event: dropped" (data {"dropped": n})
// when a slow reader made it skip events. The stream begins with a
// ": connected" comment once the subscription is in place, so an event
// published after the page saw it is delivered.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request) {
	if c.o.Events == nil {
		gateway.WriteError(w, bus.Errorf(codes.Unavailable, "console: this process watches no bus events"))
		return
	}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		gateway.WriteError(w, bus.Errorf(codes.Unavailable, "console: the node is stopping"))
		return
	case c.streams >= c.o.MaxStreams:
		c.mu.Unlock()
		gateway.WriteError(w, bus.Errorf(codes.Overloaded, "console: %d event streams are open already", c.o.MaxStreams))
		return
	}
	c.streams++
	c.wg.Add(1)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.streams--
		c.mu.Unlock()
		c.wg.Done()
	}()

	ch := make(chan event, streamBuffer)
	var dropped atomic.Int64
	unsub, err := c.o.Events.Subscribe(">", func(subject string, data []byte) {
		select {
		case ch <- event{subject, append([]byte(nil), data...)}:
		default:
			dropped.Add(1)
		}
	})
	if err != nil {
		gateway.WriteError(w, bus.Errorf(codes.Unavailable, "console: watching the bus: %v", err))
		return
	}
	defer unsub()

	rc := http.NewResponseController(w)
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }() // the connection outlives the stream
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(s string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write([]byte(s)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(": connected\nretry: 2000\n\n") {
		return
	}
	tick := time.NewTicker(c.o.Heartbeat)
	defer tick.Stop()
	var id uint64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.done:
			send("event: closing\ndata: {}\n\n")
			return
		case <-tick.C:
			if !send(": ping\n\n") {
				return
			}
		case e := <-ch:
			if n := dropped.Swap(0); n > 0 {
				if !send(fmt.Sprintf("event: dropped\ndata: {\"dropped\":%d}\n\n", n)) {
					return
				}
			}
			id++
			if !send(fmt.Sprintf("id: %d\nevent: ron.evt\ndata: %s\n\n", id, frame(e))) {
				return
			}
		}
	}
}

// frame is an event's data line: JSON on one line (json.Marshal compacts
// the raw body; a body that is not JSON travels as a string).
func frame(e event) []byte {
	type out struct {
		Subject string `json:"subject"`
		Event   any    `json:"event"`
	}
	var v any = json.RawMessage(e.data)
	if !json.Valid(e.data) {
		v = string(e.data)
	}
	b, err := json.Marshal(out{Subject: e.subject, Event: v})
	if err != nil {
		b, _ = json.Marshal(out{Subject: e.subject, Event: string(e.data)})
	}
	return b
}
