package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/ronhost/ronhost/internal/browsertest"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/ronhost/ronhost/tlds"
)

// The web console (issue 16) in headless Chromium against a real `ronhost
// serve`: the hostile cases over HTTP first (no token, a wrong token, a
// token in the query string, a content origin asking for /ui/), then the
// operator signs in with the keyboard, sees the four built-in plugins, a
// publish through the API appears live in the events view (server-sent
// events) and in the recent publishes, priced reads then "Settle now"
// show a payout per epoch and role. The page is also checked at a phone's
// width (no horizontal scrolling) and for labelled inputs. Screenshots go to
// browsertest.ArtifactDir; with RON_UPDATE_DOCS=1 the payouts one is
// written to docs/console.png (the README's picture).
func TestConsole(t *testing.T) {
	browserAvailable(t)
	c := newCLI(t)
	useTestCache(t, c.data, "[payouts]\nauto_settle = false\n[node]\npayout = \"ron1operator\"\n")
	four := []string{"ai", "alg", "map", "mod"}
	if len(tlds.Builtins()) < len(four) {
		// A binary built without `make build`: the same plugins from source.
		for _, tld := range four {
			c.ok("plugin", "install", "--allow-unsigned", writeFile(t, tld+".wasm", wasmbuild.ForTest(t, "../../tlds/"+tld)))
		}
	}
	n := startServe(t, c)
	tokb, err := os.ReadFile(filepath.Join(c.data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(tokb))
	port := n.api[strings.LastIndexByte(n.api, ':'):]
	node := "http://localhost" + port

	// Hostile cases, over plain HTTP.
	wrong := strings.TrimSpace(newCLIToken(t))
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/ui/api/state", "", 401},
		{"GET", "/ui/api/state", wrong, 401},
		{"GET", "/ui/api/events", "", 401},
		{"GET", "/ui/api/events", wrong, 401},
		{"POST", "/ui/api/session", wrong, 401},
		{"GET", "/ui/api/state?token=" + tok, "", 400},
		{"GET", "/ui/?access_token=" + tok, "", 400},
		{"POST", "/v1/payouts/settle", "", 401},
		{"POST", "/ui/api/session", tok, 204},
	} {
		code, _, b := request(t, tc.method, node+tc.path, tc.token, "", nil, nil)
		if code != tc.want {
			t.Errorf("%s %s (token %v): %d %s, want %d", tc.method, tc.path, tc.token != "", code, b, tc.want)
		}
	}
	code, hdr, page := request(t, "GET", node+"/ui/", "", "", nil, nil)
	if code != 200 || !strings.Contains(hdr.Get("Content-Security-Policy"), "script-src 'self'") ||
		!strings.Contains(hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") || hdr.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("GET /ui/: %d %v", code, hdr)
	}
	// A page of another site (or a content origin's, same-site) cannot
	// read the console's API even with the token in hand.
	if code, _, b := request(t, "GET", node+"/ui/api/state", tok, "", nil, map[string]string{"Sec-Fetch-Site": "same-site"}); code != 403 {
		t.Errorf("a same-site request for the console's state: %d %s", code, b)
	}

	// Publish something for a content origin, then ask that origin for the console.
	ct, body := publishBody(t, mapManifest, randData(5000))
	code, _, b := request(t, "POST", n.api+"/v1/publish", tok, ct, body, nil)
	if code != 201 {
		t.Fatalf("publish: %d %s", code, b)
	}
	var first struct{ Address string }
	if err := json.Unmarshal(b, &first); err != nil {
		t.Fatal(err)
	}
	fa, err := cid.ParseAddress(first.Address)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{fa.Hash.Label() + ".map.localhost" + port, fa.Hash.Label() + ".localhost" + port} {
		for _, p := range []string{"/ui/", "/ui/console.js", "/ui/api/state"} {
			req, err := http.NewRequest("GET", n.api+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = host // (a Host in Header is ignored by net/http)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if code := resp.StatusCode; code == 200 || strings.Contains(string(b), "signin-form") || strings.Contains(string(b), `"readiness"`) {
				t.Errorf("the content origin %s served the console's %s: %d %.200s", host, p, resp.StatusCode, b)
			}
		}
	}

	b2 := browsertest.New(t, browsertest.Options{})
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(b2.Context(), browsertest.ActionTimeout)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// until waits, in the page, for a JavaScript condition (polled there
	// until browsertest's action timeout) and returns its value.
	until := func(what, cond string) string {
		t.Helper()
		v, err := browsertest.TryEval[string](b2, `new Promise(res => { const f = () => { let v; try { v = (`+cond+`) } catch (e) {}
			if (v) res(String(v)); else setTimeout(f, 50); }; f(); })`)
		if err != nil {
			b2.Screenshot("timeout-" + what)
			t.Fatalf("waiting for %s (%s): %v", what, cond, err)
		}
		return v
	}

	// A content origin's /ui/ is not the console in a browser either.
	b2.Navigate("http://" + fa.Hash.Label() + ".map.localhost" + port + "/ui/")
	if html := browsertest.Eval[string](b2, `document.documentElement.outerHTML`); strings.Contains(html, "signin-form") {
		t.Fatalf("a content origin shows the console: %.300s", html)
	}

	// Sign in with the keyboard: the token typed into its labelled field, Enter.
	b2.Navigate(node + "/ui/")
	if !strings.Contains(string(page), `<label for="token">`) ||
		!browsertest.Eval[bool](b2, `[...document.querySelectorAll("input")].every(i => i.labels && i.labels.length > 0)`) {
		t.Error("an input without a label")
	}
	run("typing the token", chromedp.WaitVisible("#token"), chromedp.Focus("#token"),
		chromedp.SendKeys("#token", tok+"\r"))
	until("signed in", `document.body.dataset.signedIn === "true"`)
	if u := browsertest.Eval[string](b2, `location.href`); strings.Contains(u, tok) {
		t.Fatalf("the token is in the URL: %s", u)
	}
	got := until("the four plugins", `document.querySelectorAll("#plugins tbody tr[data-tld]").length >= 4 &&
		[...document.querySelectorAll("#plugins tbody tr[data-tld]")].map(r => r.dataset.tld).join(",")`)
	for _, tld := range four {
		if !strings.Contains(got, tld) {
			t.Errorf("plugins shown: %s, want %v", got, four)
		}
	}
	until("the event stream", `document.body.dataset.events === "live"`)
	until("readiness", `document.querySelector('#readiness li[data-component="bus"] .badge').dataset.state === "ok"`)
	b2.Screenshot("signed-in")

	// Publish through the API: the event appears live, then the publish in its table.
	ct, body = publishBody(t, strings.Replace(mapManifest, "Lyon cycle network", "Console test map", 1), randData(7000))
	code, _, b = request(t, "POST", n.api+"/v1/publish", tok, ct, body, nil)
	if code != 201 {
		t.Fatalf("publish: %d %s", code, b)
	}
	var pub struct{ Address string }
	if err := json.Unmarshal(b, &pub); err != nil {
		t.Fatal(err)
	}
	until("the publish event", fmt.Sprintf(`[...document.querySelectorAll('#events li[data-subject="ron.evt.manifest.published"]')]
		.some(li => li.textContent.includes(%q))`, pub.Address))
	until("the recent publish", fmt.Sprintf(`document.querySelector('#publishes tr[data-address=%q]')`, pub.Address))
	b2.Screenshot("event")

	// Priced reads, then the operator settles from the console.
	pa, err := cid.ParseAddress(pub.Address)
	if err != nil {
		t.Fatal(err)
	}
	const reads, price = 3, 250
	for range reads {
		resp, err := http.Get(n.api + "/r/" + pa.Hash.Hex() + ".map")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET /r/: %d", resp.StatusCode)
		}
	}
	run("settling", chromedp.Click("#settle"))
	paid := until("a payout", `[...document.querySelectorAll("#epochs tr[data-paid]")].map(r => +r.dataset.paid).find(p => p > 0)`)
	if paid != fmt.Sprint(reads*price) {
		t.Errorf("paid %s, want %d", paid, reads*price)
	}
	roles := until("payouts per role", `[...document.querySelectorAll("#epochs tr[data-paid]")].find(r => +r.dataset.paid > 0).lastElementChild.textContent`)
	if roles == "–" || roles == "" {
		t.Errorf("no payout per role: %q", roles)
	}
	until("a balance", `document.querySelector('#balances tr[data-payee="ron1lyoncycling"]')`)
	until("the settle event", `document.querySelector('#events li[data-subject="ron.evt.epoch.settled"]')`)
	if p := b2.Screenshot("payout"); os.Getenv("RON_UPDATE_DOCS") != "" {
		png, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("../../docs/console.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// A phone: the page fits its width (tables scroll inside their panels).
	run("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	if w := browsertest.Eval[bool](b2, `document.documentElement.scrollWidth <= window.innerWidth + 1`); !w {
		t.Errorf("the page scrolls sideways at a phone's width: %d > %d",
			browsertest.Eval[int](b2, `document.documentElement.scrollWidth`), browsertest.Eval[int](b2, `window.innerWidth`))
	}
	b2.Screenshot("phone")

	// Stopping the node with the event stream open: it exits cleanly.
	n.stop()
}

// newCLIToken mints a token under another node's key: well-formed, wrong here.
func newCLIToken(t *testing.T) string {
	t.Helper()
	other := newCLI(t)
	useTestCache(t, other.data, "")
	return other.ok("token", "mint", "--expires", "1h")
}
