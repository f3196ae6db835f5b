// Package console is the operator's web console, served at /ui/ on the
// node's own origin: node and role readiness, peers and DHT state, store use
// and quota, the plugins (version, publisher, origin, calls, faults,
// quarantine, latency), recent publishes, payouts per epoch and role, the
// mailbox's counts, and a live view of the bus's events (ron.evt.>) as
// server-sent events.
//
// It reads the node through interfaces it owns (State, Events; core/node
// implements them) and checks the operator's capability token with the
// gateway's Authorizer, so a token means the same here as on the API.
//
// # Routes
//
//	GET  /ui/                 the page (index.html), console.css, console.js: embedded, no data, no token
//	POST /ui/api/session      sign in: 204 when the Authorization token is good, else 401
//	GET  /ui/api/state        every panel's data as one JSON object (token)
//	GET  /ui/api/events       text/event-stream of ron.evt.> (token)
//
// Writes (settling now, publishing) are the API's own routes (POST
// /v1/payouts/settle, /v1/publish), called by the page with the same token.
//
// # Sign-in
//
// The operator pastes a token (DATA/operator.token, or one from `ronhost
// token mint`) into a form; the page POSTs it in an Authorization header and,
// when the node accepts it, keeps it in sessionStorage and sends it as
// "Authorization: Bearer" with every call. It is never in a URL: the console
// answers 400 to any /ui/ request whose query names a token. There is no
// cookie, so a page of another site cannot make the browser send it
// (no CSRF by construction), the node keeps no session state, and every
// request is checked against the token's own caveats, expiry and the
// revocation list. sessionStorage is readable by script on the node's
// origin, so that origin runs only the console's own script: every answer
// carries a Content-Security-Policy with script-src 'self' (no inline
// script, no eval), frame-ancestors 'none' and X-Frame-Options: DENY, and
// the page writes data into the DOM as text only. Closing the tab forgets
// the token. EventSource cannot send headers, so the page reads the event
// stream with fetch.
//
// # Origins
//
// Content origins (<label>.<tld>.<domain>) never reach the console: the
// gateway routes them to content only, and the console refuses (404) any
// request whose Host is not the node's own origin when given the node's
// Hosts. The gateway also refuses API requests a browser marks as sent by
// another site.
package console
