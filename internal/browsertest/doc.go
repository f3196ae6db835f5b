// Package browsertest drives a real headless Chromium for tests, over the
// DevTools protocol (github.com/chromedp/chromedp): the system's
// /usr/bin/chromium (Debian's package; .ci/run installs it), never a
// downloaded browser. A test calls New, which skips the test with a clear
// message only when chromium is not installed, and gets a Browser with a
// fresh profile (--user-data-dir in t.TempDir()) and the flags that keep it
// quiet and local: --headless --no-sandbox --disable-gpu --disable-quic
// --no-first-run --disable-background-networking --disable-component-update
// --disable-sync. Options add host resolver rules (a test DNS for public
// gateway domains) and origins to treat as secure (service workers need a
// secure context; http://localhost and *.localhost already are one).
//
// Artifacts (screenshots) go to ArtifactDir: $RON_TEST_ARTIFACTS/<test name>
// when that variable is set, else a directory under t.TempDir() (removed
// with the test). Responses records the HTTP responses the page received
// (status, Content-Range) so a test can see 206s.
//
// It imports no ronhost package: the gateway's browser tests and the
// operator console's use it alike.
package browsertest
