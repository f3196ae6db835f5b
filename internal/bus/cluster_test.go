package bus

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/ronhost/ronhost/internal/poll"

	"github.com/ronhost/ronhost/internal/codes"
)

const testCluster = "ron-test"

// member starts an embedded bus that is a member of testCluster, with a
// client listener for URL clients (none if o.Listen is "-"), routing to
// the given members.
func member(t *testing.T, name string, o Options, routes ...*Bus) *Bus {
	t.Helper()
	o.Name = name
	switch o.Listen {
	case "":
		o.Listen, o.User, o.Password = "127.0.0.1:0", opUser, opPass
	case "-":
		o.Listen = ""
	}
	o.Cluster.Name = testCluster
	if o.Cluster.Listen == "" {
		o.Cluster.Listen = "127.0.0.1:0"
	}
	for _, r := range routes {
		o.Cluster.Routes = append(o.Cluster.Routes, r.ClusterURL())
	}
	return startBus(t, o)
}

// meshed waits until every bus's server has routes to all the others.
func meshed(t *testing.T, bs ...*Bus) {
	t.Helper()
	poll.Until(t, "the cluster to form", func() bool {
		for _, b := range bs {
			if b.Stats().Members != len(bs)-1 {
				return false
			}
		}
		return true
	})
}

// serving waits until from reaches every one of the nodes serving role
// (their services answer $SRV.PING through from's server).
func serving(t *testing.T, from *Bus, role string, nodes ...string) {
	t.Helper()
	poll.Until(t, role+" on "+strings.Join(nodes, ","), func() bool {
		nc := from.Conn()
		inbox := nats.NewInbox()
		sub, err := nc.SubscribeSync(inbox)
		if err != nil {
			return false
		}
		defer sub.Unsubscribe()
		if nc.PublishRequest("$SRV.PING."+serviceName(role), inbox, nil) != nil {
			return false
		}
		seen := map[string]bool{}
		for len(seen) < len(nodes) {
			m, err := sub.NextMsg(200 * time.Millisecond)
			if err != nil {
				return false
			}
			var p struct {
				Metadata map[string]string `json:"metadata"`
			}
			if json.Unmarshal(m.Data, &p) == nil {
				seen[p.Metadata["node"]] = true
			}
		}
		for _, n := range nodes {
			if !seen[n] {
				return false
			}
		}
		return true
	})
}

// idemEcho is the echo verb, declared idempotent.
var idemEcho = Spec{Role: "echo", Verb: "echo", Idempotent: true}

func TestClusterOptionChecks(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	pki := newPKI(t, "ca")
	for name, o := range map[string]Options{
		"cluster fields without a name": {Cluster: ClusterOptions{Listen: "127.0.0.1:0"}},
		"routes without a name":         {Cluster: ClusterOptions{Routes: []string{"nats-route://127.0.0.1:1"}}},
		"cluster with URL":              {URL: "nats://127.0.0.1:1", Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1:0"}},
		"no cluster listen":             {Cluster: ClusterOptions{Name: "c"}},
		"bad cluster listen":            {Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1"}},
		"cluster listen without host":   {Cluster: ClusterOptions{Name: "c", Listen: ":6222"}},
		"name with a space":             {Cluster: ClusterOptions{Name: "a b", Listen: "127.0.0.1:0"}},
		"user without password":         {Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1:0", User: "r"}},
		"bcrypt route password": {Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1:0", User: "r",
			Password: string(hash)}},
		"route scheme":           {Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1:0", Routes: []string{"http://127.0.0.1:1"}}},
		"route with no port":     {Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1:0", Routes: []string{"nats-route://127.0.0.1"}}},
		"route port 0":           {Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1:0", Routes: []string{"nats-route://127.0.0.1:0"}}},
		"TLS, nothing to secure": {TLS: &TLSOptions{CertFile: pki.cert, KeyFile: pki.key}},
		"TLS without a cert":     {Listen: "127.0.0.1:0", User: opUser, Password: opPass, TLS: &TLSOptions{CAFile: pki.ca}},
		"cert without key":       {Listen: "127.0.0.1:0", User: opUser, Password: opPass, TLS: &TLSOptions{CertFile: pki.cert}},
		"verify without CA": {Listen: "127.0.0.1:0", User: opUser, Password: opPass,
			TLS: &TLSOptions{CertFile: pki.cert, KeyFile: pki.key, Verify: true}},
		"cluster TLS without CA": {Cluster: ClusterOptions{Name: "c", Listen: "127.0.0.1:0"},
			TLS: &TLSOptions{CertFile: pki.cert, KeyFile: pki.key}},
		"verify with URL": {URL: "nats://127.0.0.1:1", TLS: &TLSOptions{CAFile: pki.ca, Verify: true}},
		"missing cert file": {Listen: "127.0.0.1:0", User: opUser, Password: opPass,
			TLS: &TLSOptions{CertFile: pki.cert + ".nope", KeyFile: pki.key}},
	} {
		o.Logger = discard
		b := New(o)
		if err := b.Start(ctxT(t)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
		_ = b.Close()
	}
}

func TestClusterSpreadsAndSurvivesAnInstance(t *testing.T) {
	// Three members; a role served by the first two is called from the third.
	a := member(t, "a", Options{})
	b := member(t, "b", Options{Listen: "-"}, a) // in-process connections only
	if b.ListenURL() != "" {
		t.Fatalf("b has a listener for clients: %q", b.ListenURL())
	}
	// c is given the whole list, itself included, as every member of a
	// real deployment would be (its port is picked before it starts).
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	self := l.Addr().String()
	l.Close()
	c := member(t, "c", Options{AttemptTimeout: 200 * time.Millisecond,
		Cluster: ClusterOptions{Listen: self, Routes: []string{"nats-route://" + self}}}, a, b)
	meshed(t, a, b, c)
	if c.ClusterURL() != "nats-route://"+self {
		t.Fatalf("cluster URL %q, want %q", c.ClusterURL(), self)
	}
	// A second member on a taken route port fails Start with the reason.
	taken := New(Options{Logger: discard, Cluster: ClusterOptions{Name: testCluster, Listen: self}})
	if err := taken.Start(ctxT(t)); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a taken route port: %v", err)
	}
	_ = taken.Close()
	if u := a.ClusterURL(); !strings.HasPrefix(u, "nats-route://127.0.0.1:") || strings.HasSuffix(u, ":0") {
		t.Fatalf("cluster URL %q", u)
	}
	if New(Options{}).ClusterURL() != "" {
		t.Fatal("a cluster URL without a cluster")
	}
	for _, m := range []*Bus{a, b} {
		if err := m.AddService("echo", "1.0.0", "", echoService(m.o.Name)); err != nil {
			t.Fatal(err)
		}
	}
	serving(t, c, "echo", "a", "b")

	ctx := ctxT(t)
	count := map[string]int{}
	const n = 200
	for i := 0; i < n; i++ {
		var r echoResp
		if err := c.Request(ctx, idemEcho, echoReq{N: i}, &r); err != nil || r.N != i+1 {
			t.Fatalf("request %d: %+v %v", i, r, err)
		}
		count[r.Node]++
	}
	if count["a"] == 0 || count["b"] == 0 || count["a"]+count["b"] != n {
		t.Fatalf("spread over the instances: %v", count)
	}

	// A stream of requests from four callers; a (instance and server) shuts
	// down in the middle of it. Every request gets its answer.
	var (
		mu      sync.Mutex
		byNode  = map[string]int{}
		errs    []error
		wg      sync.WaitGroup
		answers atomic.Int32
	)
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var r echoResp
				err := c.Request(ctx, idemEcho, echoReq{N: i}, &r)
				mu.Lock()
				if err != nil || r.N != i+1 {
					errs = append(errs, err)
				} else {
					byNode[r.Node]++
				}
				mu.Unlock()
				answers.Add(1)
			}
		}()
	}
	poll.Until(t, "the stream to flow", func() bool { return answers.Load() >= 100 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	after := answers.Load()
	poll.Until(t, "the stream to go on after a closed", func() bool { return answers.Load() >= after+200 })
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("%d requests failed, e.g. %v (answers by node %v)", len(errs), errs[0], byNode)
	}
	if byNode["a"] == 0 || byNode["b"] == 0 {
		t.Fatalf("answers by node %v", byNode)
	}
	if st := c.Stats(); st.Members != 1 || st.Failed != 0 || st.Requests < n+uint64(answers.Load()) {
		t.Fatalf("stats after a left: %+v", st)
	}
}

func TestIdempotentRequestOutlivesASilentInstance(t *testing.T) {
	// An instance takes a request and dies without answering (its
	// connection drops): the request is sent again after AttemptTimeout
	// and the other instance answers. A verb that is not idempotent is not
	// sent again.
	srv := startBus(t, Options{Name: "srv", Listen: "127.0.0.1:0", User: opUser, Password: opPass})
	url := srv.ListenURL()
	client := func(name string, o Options) *Bus {
		o.Name, o.URL, o.User, o.Password = name, url, opUser, opPass
		return startBus(t, o)
	}
	x := client("x", Options{})
	y := client("y", Options{})
	// Ten copies at most, 100 ms apart: a copy sent before x's close has
	// reached the server may land on x again, and a stalled machine can
	// take hundreds of ms over that close; ten leave one for y.
	caller := client("caller", Options{AttemptTimeout: 100 * time.Millisecond, Retries: 10})

	took := make(chan struct{}, 1)
	release := make(chan struct{})
	var xCalls atomic.Int32
	if err := x.AddService("echo", "1.0.0", "", map[string]Handler{
		"echo": func(ctx context.Context, _ []byte) (any, error) {
			xCalls.Add(1)
			select {
			case took <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, Errorf(codes.Internal, "x should never answer")
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := y.AddService("echo", "1.0.0", "", echoService("y")); err != nil {
		t.Fatal(err)
	}
	defer close(release)
	serving(t, caller, "echo", "x", "y")

	// Requests until one lands on x; those y takes are answered at once.
	ctx := ctxT(t)
	done := make(chan error, 64)
	var stuck int
	for landed := false; !landed; {
		stuck++
		go func(i int) {
			var r echoResp
			err := caller.Request(ctx, idemEcho, echoReq{N: i}, &r)
			if err == nil && (r.Node != "y" || r.N != i+1) {
				err = errors.New("wrong answer")
			}
			done <- err
		}(stuck)
		select {
		case <-took:
			landed = true
		case err := <-done:
			stuck--
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	x.Conn().Close() // x dies holding the request
	for ; stuck > 0; stuck-- {
		if err := <-done; err != nil {
			t.Fatalf("a request held by the dead instance: %v", err)
		}
	}
	if st := caller.Stats(); st.Hedges == 0 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}

	// Not idempotent: one attempt, ended by the caller's deadline.
	var zCalls atomic.Int32
	z := client("z", Options{})
	if err := z.AddService("once", "1.0.0", "", map[string]Handler{
		"do": func(ctx context.Context, _ []byte) (any, error) {
			zCalls.Add(1)
			select {
			case <-release:
			case <-ctx.Done(): // the caller's deadline
			}
			return nil, ctx.Err()
		},
	}); err != nil {
		t.Fatal(err)
	}
	serving(t, caller, "once", "z")
	short, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if e := asBusError(t, caller.Request(short, Spec{Role: "once", Verb: "do"}, nil, nil)); e.Code != codes.Timeout {
		t.Fatalf("not idempotent: %#v", e)
	}
	// Had it been repeated, the copies (sent from 100 ms on) would be
	// there long before the 600 ms deadline; a round trip shows that what
	// was sent has arrived, and the wait for the first call covers a
	// handler goroutine a loaded machine has not run yet (a deadline
	// sends no cancel, so the request is served however late).
	if err := caller.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	if err := z.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the request at z", func() bool { return zCalls.Load() > 0 })
	if n := zCalls.Load(); n != 1 {
		t.Fatalf("a verb that is not idempotent ran %d times", n)
	}
}

func TestRetriesOnRetryableFailures(t *testing.T) {
	b := startBus(t, Options{Name: "r"})
	idem := func(verb string) bool { return verb == "flaky_idem" || verb == "too_flaky" }
	var calls sync.Map // verb -> *atomic.Int32
	counter := func(verb string) *atomic.Int32 {
		c, _ := calls.LoadOrStore(verb, new(atomic.Int32))
		return c.(*atomic.Int32)
	}
	flaky := func(verb string, fail *Error, times int32) Handler {
		return func(context.Context, []byte) (any, error) {
			if counter(verb).Add(1) <= times {
				return nil, fail
			}
			return "ok", nil
		}
	}
	unavailable := &Error{Code: codes.Unavailable, Message: "shutting down", Retryable: true}
	if err := b.AddService("flaky", "1.0.0", "", map[string]Handler{
		"flaky":       flaky("flaky", unavailable, 2),
		"flaky_idem":  flaky("flaky_idem", &Error{Code: codes.Overloaded, Message: "busy", Retryable: true}, 2),
		"too_flaky":   flaky("too_flaky", unavailable, 3),
		"not_retry":   flaky("not_retry", &Error{Code: codes.Overloaded, Message: "busy", Retryable: false}, 1),
		"rejected":    flaky("rejected", &Error{Code: codes.Rejected, Message: "no"}, 1),
		"timeout":     flaky("timeout", &Error{Code: codes.Timeout, Message: "late", Retryable: true}, 1),
		"unavailable": flaky("unavailable", &Error{Code: codes.Unavailable, Message: "not retryable"}, 1),
	}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	for verb, want := range map[string]struct {
		ok    bool
		calls int32
	}{
		// A handler that says "unavailable, retryable" may have done part of
		// the work: only an idempotent verb is sent again.
		"flaky": {false, 1}, "flaky_idem": {true, 3}, "too_flaky": {false, 3},
		"not_retry": {false, 1}, "rejected": {false, 1}, "timeout": {false, 1}, "unavailable": {false, 1},
	} {
		var s string
		err := b.Request(ctx, Spec{Role: "flaky", Verb: verb, Idempotent: idem(verb)}, nil, &s)
		if (err == nil) != want.ok || counter(verb).Load() != want.calls {
			t.Errorf("%s: %v after %d calls, want ok=%v after %d", verb, err, counter(verb).Load(), want.ok, want.calls)
		}
	}
	if st := b.Stats(); st.Retries != 4 || st.Hedges != 0 || st.Failed != 6 || st.Requests != 7 {
		t.Errorf("stats %+v", st)
	}

	// A refusal marked as sent before the handler ran (what a closing
	// node answers) is sent again whatever the verb.
	var rawCalls atomic.Int32
	sub, err := b.Conn().QueueSubscribe("ron.raw.x", "ron.raw", func(m *nats.Msg) {
		if rawCalls.Add(1) == 1 {
			_ = m.RespondMsg(&nats.Msg{Data: []byte(`{"code":"unavailable","message":"closing","retryable":true}`),
				Header: nats.Header{"Nats-Service-Error-Code": {"unavailable"}, "Nats-Service-Error": {"closing"},
					notRunHeader: {"true"}}})
			return
		}
		_ = m.Respond([]byte(`"done"`))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	var s string
	if err := b.Request(ctx, Spec{Role: "raw", Verb: "x"}, nil, &s); err != nil || s != "done" || rawCalls.Load() != 2 {
		t.Fatalf("a refusal before the handler ran: %q %v after %d calls", s, err, rawCalls.Load())
	}

	// Retries < 0: none.
	none := startBus(t, Options{Retries: -1})
	var nCalls atomic.Int32
	if err := none.AddService("flaky", "1.0.0", "", map[string]Handler{
		"x": func(context.Context, []byte) (any, error) { nCalls.Add(1); return nil, unavailable },
	}); err != nil {
		t.Fatal(err)
	}
	if e := asBusError(t, none.Request(ctx, Spec{Role: "flaky", Verb: "x"}, nil, nil)); e.Code != codes.Unavailable || nCalls.Load() != 1 {
		t.Fatalf("Retries -1: %v after %d calls", e, nCalls.Load())
	}

	// No responders: the role comes up while the caller backs off, and the
	// next attempt finds it. Both for a verb sent once at a time and for an
	// idempotent one.
	for _, verb := range []string{"late", "flaky_idem"} {
		role := "late_" + verb
		var hooks atomic.Int32
		b.retryHook = func(n int, cause *Error) {
			if hooks.Add(1) == 1 {
				if cause == nil || cause.Code != codes.Unavailable {
					t.Errorf("the first retry's cause: %v", cause)
				}
				if err := b.AddService(role, "1.0.0", "", map[string]Handler{verb: echoService("r")["echo"]}); err != nil {
					t.Error(err)
				}
			}
		}
		var r echoResp
		if err := b.Request(ctx, Spec{Role: role, Verb: verb, Idempotent: idem(verb)}, echoReq{N: 1}, &r); err != nil || r.N != 2 || hooks.Load() != 1 {
			t.Fatalf("%s: a role that came up during the backoff: %+v %v (%d retries)", verb, r, err, hooks.Load())
		}
	}
	b.retryHook = nil

	// A backoff that would outlast the deadline is not waited for: the
	// failure comes back, not a timeout. The deadline is below the first
	// backoff's shortest, so any answer before it is followed by a backoff
	// that does not fit; a timeout is only right when the first attempt
	// itself got no answer in time, which a stalled machine can cause, so
	// that case is tried again (a bus that times out on the backoff fails
	// every try).
	var e *Error
	for try := 0; try < 20; try++ {
		short, cancel := context.WithTimeout(ctx, retryBackoffMin/2-time.Millisecond)
		e = asBusError(t, b.Request(short, Spec{Role: "nobody", Verb: "x"}, nil, nil))
		cancel()
		if e.Code != codes.Timeout {
			break
		}
	}
	if e.Code != codes.Unavailable {
		t.Fatalf("no responders with a short deadline: %#v", e)
	}
}

func TestReconnectToAnotherServer(t *testing.T) {
	// Three members; two client buses given all three URLs. The server of
	// the one serving a role dies: it reconnects to another, its service
	// subscribes again and answers.
	s1 := member(t, "s1", Options{})
	s2 := member(t, "s2", Options{}, s1)
	s3 := member(t, "s3", Options{}, s1)
	meshed(t, s1, s2, s3)
	servers := []*Bus{s1, s2, s3}
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ListenURL())
	}
	list := strings.Join(urls, ",")
	x := startBus(t, Options{Name: "x", URL: list, User: opUser, Password: opPass})
	y := startBus(t, Options{Name: "y", URL: list, User: opUser, Password: opPass})
	if err := x.AddService("xrole", "1.0.0", "", echoService("x")); err != nil {
		t.Fatal(err)
	}
	serving(t, y, "xrole", "x")
	ctx := ctxT(t)
	var r echoResp
	if err := y.Request(ctx, Spec{Role: "xrole", Verb: "echo"}, echoReq{N: 1}, &r); err != nil || r.Node != "x" {
		t.Fatalf("before: %+v %v", r, err)
	}

	on := x.Conn().ConnectedUrl()
	var dead *Bus
	for i, u := range urls {
		if u == on {
			dead = servers[i]
		}
	}
	if dead == nil {
		t.Fatalf("x is on %q, not one of %v", on, urls)
	}
	if err := dead.Close(); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "x to reconnect elsewhere", func() bool {
		return x.Ready() && x.Conn().ConnectedUrl() != on && x.Stats().Reconnects == 1
	})
	// x's service subscribed again on its new server; y (wherever it is
	// now) reaches it.
	poll.Until(t, "x's service to answer again", func() bool {
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		var r echoResp
		return y.Request(short, Spec{Role: "xrole", Verb: "echo"}, echoReq{N: 7}, &r) == nil && r.N == 8 && r.Node == "x"
	})
}

func TestStartWaitsForTheServer(t *testing.T) {
	// A process may start before its NATS is up: Start retries until the
	// server appears.
	first := New(Options{Listen: "127.0.0.1:0", User: opUser, Password: opPass, Logger: discard})
	if err := first.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	url := first.ListenURL()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	x := New(Options{Name: "x", URL: url, User: opUser, Password: opPass,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	t.Cleanup(func() { _ = x.Close() })
	started := make(chan error, 1)
	go func() { started <- x.Start(ctxT(t)) }()
	poll.Until(t, "x to have tried", func() bool { return strings.Contains(logs.String(), "not reachable yet") })
	if x.Ready() {
		t.Fatal("ready without a server")
	}
	srv := startBus(t, Options{Name: "srv", Listen: strings.TrimPrefix(url, "nats://"), User: opUser, Password: opPass})
	if err := <-started; err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := x.AddService("xrole", "1.0.0", "", echoService("x")); err != nil {
		t.Fatal(err)
	}
	var r echoResp
	if err := srv.Request(ctxT(t), Spec{Role: "xrole", Verb: "echo"}, echoReq{}, &r); err != nil || r.Node != "x" {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestClusterRouteAuthorization(t *testing.T) {
	logs := &syncBuffer{}
	a := member(t, "a", Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Cluster: ClusterOptions{User: "route", Password: "right-pw-42x9-hq7m"}})
	if err := a.AddService("arole", "1.0.0", "", echoService("a")); err != nil {
		t.Fatal(err)
	}
	bad := member(t, "bad", Options{Cluster: ClusterOptions{User: "route", Password: "wrong-pw-17q3-zk2p"}}, a)
	poll.Until(t, "a to refuse the route", func() bool {
		return strings.Contains(logs.String(), "authentication error")
	})
	if a.Stats().Members != 0 || bad.Stats().Members != 0 {
		t.Fatalf("a route with the wrong password: %+v %+v", a.Stats(), bad.Stats())
	}
	if e := asBusError(t, bad.Request(ctxT(t), Spec{Role: "arole", Verb: "echo"}, nil, nil)); e.Code != codes.Unavailable {
		t.Fatalf("across a refused route: %#v", e)
	}
	// The right password joins.
	good := member(t, "good", Options{Cluster: ClusterOptions{User: "route", Password: "right-pw-42x9-hq7m"}}, a)
	meshed(t, a, good)
	serving(t, good, "arole", "a")
	if bad.Stats().Members != 0 {
		t.Fatal("the member with the wrong password joined through gossip")
	}
}

func TestTLS(t *testing.T) {
	pki := newPKI(t, "ronhost test CA")
	other := newPKI(t, "another CA")
	ctx := ctxT(t)

	// The listener with TLS; the node's own in-process connection needs none.
	s := startBus(t, Options{Name: "s", Listen: "127.0.0.1:0", User: opUser, Password: opPass,
		TLS: &TLSOptions{CertFile: pki.cert, KeyFile: pki.key}})
	if err := s.AddService("srole", "1.0.0", "", echoService("s")); err != nil {
		t.Fatal(err)
	}
	url := s.ListenURL()
	c := startBus(t, Options{Name: "c", URL: url, User: opUser, Password: opPass, TLS: &TLSOptions{CAFile: pki.ca}})
	var r echoResp
	if err := c.Request(ctx, Spec{Role: "srole", Verb: "echo"}, echoReq{N: 1}, &r); err != nil || r.Node != "s" {
		t.Fatalf("over TLS: %+v %v", r, err)
	}
	if st := c.Conn().TLSRequired(); !st {
		t.Fatal("the connection is not TLS")
	}
	for name, o := range map[string]*TLSOptions{"no CA (system roots)": nil, "another CA": {CAFile: other.ca}} {
		refuse(t, name, Options{URL: url, User: opUser, Password: opPass, TLS: o})
	}

	// Verify: a client certificate signed by the CA is required.
	v := startBus(t, Options{Name: "v", Listen: "127.0.0.1:0", User: opUser, Password: opPass,
		TLS: &TLSOptions{CertFile: pki.cert, KeyFile: pki.key, CAFile: pki.ca, Verify: true}})
	if err := v.AddService("vrole", "1.0.0", "", echoService("v")); err != nil {
		t.Fatal(err)
	}
	refuse(t, "no client certificate", Options{URL: v.ListenURL(), User: opUser, Password: opPass, TLS: &TLSOptions{CAFile: pki.ca}})
	refuse(t, "a client certificate of another CA", Options{URL: v.ListenURL(), User: opUser, Password: opPass,
		TLS: &TLSOptions{CAFile: pki.ca, CertFile: other.clientCert, KeyFile: other.clientKey}})
	vc := startBus(t, Options{Name: "vc", URL: v.ListenURL(), User: opUser, Password: opPass,
		TLS: &TLSOptions{CAFile: pki.ca, CertFile: pki.clientCert, KeyFile: pki.clientKey}})
	if err := vc.Request(ctx, Spec{Role: "vrole", Verb: "echo"}, echoReq{N: 1}, &r); err != nil || r.Node != "v" {
		t.Fatalf("with a client certificate: %+v %v", r, err)
	}

	// Routes over mutual TLS: members of the CA join, one of another CA
	// does not.
	logs := &syncBuffer{}
	tlsOf := func(p testPKI) *TLSOptions { return &TLSOptions{CertFile: p.cert, KeyFile: p.key, CAFile: p.ca} }
	m1 := member(t, "m1", Options{TLS: tlsOf(pki),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	m2 := member(t, "m2", Options{TLS: tlsOf(pki)}, m1)
	meshed(t, m1, m2)
	if err := m1.AddService("mrole", "1.0.0", "", echoService("m1")); err != nil {
		t.Fatal(err)
	}
	serving(t, m2, "mrole", "m1")
	if err := m2.Request(ctx, Spec{Role: "mrole", Verb: "echo"}, echoReq{N: 1}, &r); err != nil || r.Node != "m1" {
		t.Fatalf("across a TLS route: %+v %v", r, err)
	}
	stranger := member(t, "stranger", Options{TLS: &TLSOptions{CertFile: other.cert, KeyFile: other.key, CAFile: pki.ca}}, m1)
	poll.Until(t, "m1 to refuse the stranger's route", func() bool {
		return strings.Contains(logs.String(), "certificate")
	})
	if stranger.Stats().Members != 0 || m1.Stats().Members != 1 {
		t.Fatalf("a route with a certificate of another CA: %+v %+v", stranger.Stats(), m1.Stats())
	}
}

// refuse checks that a bus with o cannot connect, and is told so at once
// (not at its Start deadline).
func refuse(t *testing.T, name string, o Options) {
	t.Helper()
	o.Logger = discard
	b := New(o)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := b.Start(ctx)
	if err == nil {
		t.Errorf("%s: connected", name)
		return
	}
	if !permanent(err) || ctx.Err() != nil {
		t.Errorf("%s: %v (not recognized as final)", name, err)
	}
}

// testPKI is a CA and the certificates it signed, as PEM files.
type testPKI struct {
	ca, cert, key, clientCert, clientKey string
}

func newPKI(t *testing.T, name string) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{ca: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.ca, "CERTIFICATE", caDER)
	issue := func(serial int64, cn string, usage []x509.ExtKeyUsage, server bool) (string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usage,
		}
		if server {
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
			tmpl.DNSNames = []string{"localhost"}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")
		writePEM(t, certFile, "CERTIFICATE", der)
		writePEM(t, keyFile, "EC PRIVATE KEY", kder)
		return certFile, keyFile
	}
	p.cert, p.key = issue(2, "server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, true)
	p.clientCert, p.clientKey = issue(3, "client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, false)
	if _, err := tls.LoadX509KeyPair(p.cert, p.key); err != nil {
		t.Fatal(err)
	}
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a log sink the test reads while the bus writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
