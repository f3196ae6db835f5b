package node

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/config"
)

// route is a request to the node's listener and what it must get.
type route struct {
	host, method, path string
	header             map[string]string
	status             int
	has, hasNot        string // in the body
}

func checkRoutes(t *testing.T, api string, jsonErrors bool, routes []route) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, rt := range routes {
		req, err := http.NewRequest(rt.method, api+rt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rt.host != "" {
			req.Host = rt.host
		}
		for k, v := range rt.header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != rt.status || !strings.Contains(string(b), rt.has) || rt.hasNot != "" && strings.Contains(string(b), rt.hasNot) {
			t.Errorf("%s %s (Host %q): %d %.200s, want %d with %q and without %q", rt.method, rt.path, rt.host, resp.StatusCode, b, rt.status, rt.has, rt.hasNot)
		}
		if jsonErrors && resp.StatusCode >= 400 && rt.method != "HEAD" && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: error %d as %q, want the JSON error shape", rt.method, rt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// The node's one listener: each route answers as it did when the gateway's
// routes and the ops routes were two routers. Hostile: the ops, console and
// API routes asked on a content origin are content there (an address's
// page never reaches the node's API or console), the API refuses pages of
// other origins, a wrong method is 405 with Allow (the gateway's routes) or the 404
// (the node's: ServeMux's catch-all takes every method), an unclean path
// is redirected, what no route takes is the JSON 404, writes need a token.
func TestOneListenerRoutes(t *testing.T) {
	// No overlay: a content origin's missing object is a 404 at once.
	_, api, _ := startNode(t, func(c *config.Config) { c.Overlay.Mode = "off" })
	content := cid.Sum([]byte("no such object")).Label() + ".localhost"
	checkRoutes(t, api, true, []route{
		{"", "GET", "/healthz", nil, 200, `"ok"`, ""},
		{"", "POST", "/healthz", nil, 404, "no such endpoint", ""},
		{"", "GET", "/v1/plugins", nil, 200, `"notes"`, ""},
		{"", "GET", "/v1//plugins", nil, 307, "", ""},
		{"", "HEAD", "/v1/publish", nil, 405, "", ""},
		{"", "GET", "/v1/publish", nil, 405, "POST", ""},
		{"", "POST", "/v1/publish", nil, 401, "", ""},
		{"", "POST", "/v1/gc", nil, 401, "", ""},
		{"", "POST", "/v1/payouts/settle", nil, 401, "", ""},
		{"", "GET", "/v1/payouts/", nil, 404, "no such endpoint", ""},
		{"", "GET", "/nope", nil, 404, "no such endpoint", ""},
		{"", "GET", "/ui/", nil, 200, "<html", ""},
		{"", "GET", "/ui/nope", nil, 404, "console: no such page", ""},
		{"", "POST", "/v1/gc", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403, "other origins", ""},
		{"", "GET", "/v1/plugins", map[string]string{"Origin": "http://" + content}, 403, "other origins", ""},
		{content, "GET", "/v1/plugins", nil, 404, "", `"notes"`},
		{content, "GET", "/ui/", nil, 404, "", "<html"},
		{content, "POST", "/v1/gc", nil, 405, "", ""},
		{content, "GET", "/healthz", nil, 404, "", `"ok"`},
		{"elsewhere.example", "GET", "/healthz", nil, 421, "", ""},
	})
}

// Without the gateway role the node serves its own routes alone: the
// gateway's API is the JSON 404, the ops and console routes answer.
func TestOneListenerRoutesWithoutTheGateway(t *testing.T) {
	_, api, _ := startNode(t, func(c *config.Config) {
		c.Overlay.Mode = "off"
		c.Node.Roles = slices.DeleteFunc(config.AllRoles(), func(r string) bool { return r == "gateway" })
	})
	// (no gateway, no JSON shape for the mux's own 405: as before)
	checkRoutes(t, api, false, []route{
		{"", "GET", "/healthz", nil, 200, `"ok"`, ""},
		{"", "POST", "/v1/publish", nil, 404, "no such endpoint", ""},
		{"", "GET", "/v1/payouts", nil, 404, "no such endpoint", ""},
		{"", "GET", "/o/b3:1234", nil, 404, "no such endpoint", ""},
		{"", "GET", "/ui/", nil, 200, "<html", ""},
		{"", "POST", "/healthz", nil, 404, "no such endpoint", ""},
		{"", "GET", "/v1//plugins", nil, 307, "", ""},
	})
}
