package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Chromium is the browser the tests drive: Debian's package.
const Chromium = "/usr/bin/chromium"

// ActionTimeout bounds one step (a navigation, an evaluation) on a busy
// machine.
const ActionTimeout = 60 * time.Second

// Options tune a Browser.
type Options struct {
	// HostResolverRules is Chromium's --host-resolver-rules, e.g.
	// "MAP gw.test 127.0.0.1, MAP *.gw.test 127.0.0.1": a DNS for the test.
	HostResolverRules string
	// SecureOrigins are treated as secure contexts
	// (--unsafely-treat-insecure-origin-as-secure), e.g. http://gw.test:8470.
	SecureOrigins []string
}

// Browser is one headless Chromium with one tab.
type Browser struct {
	t      testing.TB
	ctx    context.Context
	dir    string // artifacts
	mu     sync.Mutex
	resps  []Response
	shotNo int
}

// Response is an HTTP response the tab received.
type Response struct {
	URL          string
	Status       int
	ContentRange string
	MimeType     string
}

// New starts a browser for t, closed when t ends. It skips t when chromium
// is not installed.
func New(t testing.TB, o Options) *Browser {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Skipf("browsertest: chromium is not installed at %s (apt-get install chromium; .ci/run does): %v", Chromium, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 700),
	}
	if o.HostResolverRules != "" {
		opts = append(opts, chromedp.Flag("host-resolver-rules", o.HostResolverRules))
	}
	if len(o.SecureOrigins) > 0 {
		opts = append(opts, chromedp.Flag("unsafely-treat-insecure-origin-as-secure", strings.Join(o.SecureOrigins, ",")))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{t: t, ctx: ctx, dir: ArtifactDir(t)}
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatalf("browsertest: starting %s: %v", Chromium, err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("browsertest: Network.enable: %v", err)
	}
	return b
}

// record keeps the tab's responses (it runs on the reader's goroutine:
// quick, no commands).
func (b *Browser) record(ev any) {
	e, ok := ev.(*network.EventResponseReceived)
	if !ok || e.Response == nil {
		return
	}
	r := Response{URL: e.Response.URL, Status: int(e.Response.Status), MimeType: e.Response.MimeType}
	for k, v := range e.Response.Headers {
		if strings.EqualFold(k, "Content-Range") {
			r.ContentRange, _ = v.(string)
		}
	}
	b.mu.Lock()
	b.resps = append(b.resps, r)
	b.mu.Unlock()
}

// Responses returns the responses received so far whose URL has prefix.
func (b *Browser) Responses(prefix string) []Response {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Response
	for _, r := range b.resps {
		if strings.HasPrefix(r.URL, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// Context is the tab's chromedp context, for actions this package does not
// wrap; bound each with a timeout derived from it.
func (b *Browser) Context() context.Context { return b.ctx }

// Navigate opens url in the tab and waits for its load event.
func (b *Browser) Navigate(url string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, ActionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("browsertest: navigating to %s: %v", url, err)
	}
}

// Eval evaluates a JavaScript expression in the page, awaiting it when it
// is a promise, and returns its JSON value decoded into T.
func Eval[T any](b *Browser, js string) T {
	b.t.Helper()
	v, err := TryEval[T](b, js)
	if err != nil {
		b.t.Fatalf("browsertest: evaluating %.200s: %v", js, err)
	}
	return v
}

// TryEval is Eval returning the error (a thrown exception, a timeout).
func TryEval[T any](b *Browser, js string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, ActionTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// Screenshot saves the page as ArtifactDir(t)/NN-name.png and returns
// the file's path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browsertest: screenshot %s: %v", name, err)
	}
	b.mu.Lock()
	b.shotNo++
	n := b.shotNo
	b.mu.Unlock()
	p := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", n, safeName(name)))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("browsertest: screenshot %s", p)
	return p
}

// ArtifactDir is where a test's artifacts go: $RON_TEST_ARTIFACTS/<test
// name> when the variable is set (kept after the run), else a directory of
// t.TempDir().
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "artifacts")
	if root := os.Getenv("RON_TEST_ARTIFACTS"); root != "" {
		dir = filepath.Join(root, safeName(t.Name()))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return unsafe.ReplaceAllString(s, "_") }

// IsTimeout reports whether err is an action's deadline.
func IsTimeout(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
