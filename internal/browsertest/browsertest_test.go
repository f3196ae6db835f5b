package browsertest

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestBrowser: pages load, scripts run and answer (promises awaited), the
// responses are recorded, a screenshot is a PNG, and the host rules give a
// test its own DNS.
func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/part" {
			w.Header().Set("Content-Range", "bytes 0-1/10")
			w.WriteHeader(206)
			w.Write([]byte("ab"))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!DOCTYPE html><title>t</title><p id=p>hello from ` + r.Host + `</p>`))
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	b := New(t, Options{HostResolverRules: "MAP www.browsertest.test 127.0.0.1"})
	b.Navigate("http://www.browsertest.test" + port + "/")
	if got := Eval[string](b, `document.getElementById("p").textContent`); got != "hello from www.browsertest.test"+port {
		t.Fatalf("page text %q", got)
	}
	if got := Eval[int](b, `fetch("/part").then(r => r.status)`); got != 206 {
		t.Fatalf("fetch status %d", got)
	}
	rs := b.Responses("http://www.browsertest.test" + port + "/part")
	if len(rs) != 1 || rs[0].Status != 206 || rs[0].ContentRange != "bytes 0-1/10" {
		t.Fatalf("recorded %+v", rs)
	}
	if _, err := TryEval[int](b, `Promise.reject(new Error("no"))`); err == nil {
		t.Fatal("a rejected promise evaluated")
	}
	png, err := os.ReadFile(b.Screenshot("page"))
	if err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Fatalf("screenshot: %v", err)
	}
}
