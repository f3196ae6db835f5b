// ronhost console. Plain JavaScript, no dependencies. Data goes into the
// page as text only (textContent), never as HTML. The operator's token is
// kept in sessionStorage and sent as an Authorization header; it never goes
// into a URL.
"use strict";

(() => {
  const KEY = "ronhost.console.token";
  const MAX_EVENTS = 200;
  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(KEY) || "";
  let pollTimer = 0, refreshTimer = 0, stream = null, retryTimer = 0, retryDelay = 1000;

  // el builds an element; children are nodes or strings (as text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("data-")) e.setAttribute(k, String(v));
      else e.setAttribute(k, String(v));
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function bytes(n) {
    if (n === undefined || n === null || n < 0) return "unknown";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }
  const num = (n) => (n || 0).toLocaleString("en");
  const short = (s, n) => (s && s.length > n ? s.slice(0, n) + "…" : s || "");
  const when = (t) => {
    if (!t) return "";
    const d = new Date(t);
    return isNaN(d) ? "" : d.toLocaleString();
  };

  // api calls the node with the token; a 401 signs the operator out.
  async function api(path, opts) {
    const o = Object.assign({}, opts || {});
    o.headers = Object.assign({ Authorization: "Bearer " + token }, o.headers || {});
    o.credentials = "omit";
    o.cache = "no-store";
    const r = await fetch(path, o);
    if (r.status === 401) {
      signOut("The node no longer accepts this token (expired, revoked or rotated): sign in again.");
      throw new Error("unauthorized");
    }
    return r;
  }

  async function errorText(r) {
    try { const e = await r.json(); return e.message || r.statusText; } catch (_) { return r.status + " " + r.statusText; }
  }

  // Sign-in: the token is checked by the node before it is kept.
  async function signIn(ev) {
    ev.preventDefault();
    const input = $("token"), err = $("signin-error"), btn = ev.target.querySelector("button");
    const t = input.value.trim();
    err.textContent = "";
    if (!t) { err.textContent = "Paste a token first."; input.focus(); return; }
    btn.disabled = true;
    try {
      const r = await fetch("/ui/api/session", { method: "POST", headers: { Authorization: "Bearer " + t },
        credentials: "omit", cache: "no-store" });
      if (r.status !== 204) {
        err.textContent = "Refused: " + await errorText(r);
        input.focus();
        return;
      }
      token = t;
      sessionStorage.setItem(KEY, t);
      input.value = "";
      start();
    } catch (e) {
      err.textContent = "The node cannot be reached: " + e.message;
    } finally {
      btn.disabled = false;
    }
  }

  function signOut(why) {
    token = "";
    sessionStorage.removeItem(KEY);
    clearInterval(pollTimer);
    clearTimeout(retryTimer);
    if (stream) stream.abort();
    stream = null;
    $("console").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    $("node-line").textContent = "";
    $("signin-error").textContent = why || "";
    document.body.dataset.signedIn = "false";
    $("token").focus();
  }

  function start() {
    $("signin").hidden = true;
    $("console").hidden = false;
    $("signout").hidden = false;
    document.body.dataset.signedIn = "true";
    $("main").focus();
    refresh();
    clearInterval(pollTimer);
    pollTimer = setInterval(refresh, 5000);
    connectEvents();
  }

  // refreshSoon coalesces the refreshes events ask for.
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, 250);
  }

  let refreshing = false;
  async function refresh() {
    if (!token || refreshing) return;
    refreshing = true;
    try {
      const r = await api("/ui/api/state");
      if (!r.ok) { $("refresh-line").textContent = "The state could not be read: " + await errorText(r); return; }
      render(await r.json());
    } catch (e) {
      if (e.message !== "unauthorized") $("refresh-line").textContent = "The node cannot be reached: " + e.message;
    } finally {
      refreshing = false;
    }
  }

  function fill(tbody, rows, cols, empty) {
    tbody.replaceChildren();
    if (!rows.length) {
      tbody.append(el("tr", {}, el("td", { colspan: cols, class: "empty", text: empty })));
      return;
    }
    for (const r of rows) tbody.append(r);
  }

  function kv(dl, pairs) {
    dl.replaceChildren();
    for (const [k, v] of pairs) {
      dl.append(el("dt", { text: k }), el("dd", {}, v));
    }
  }

  function render(s) {
    const errs = s.errors || {};
    const n = s.node || {};
    $("node-line").replaceChildren(
      el("span", { class: "badge", "data-state": n.ready ? "ok" : "down", text: n.ready ? "ready" : "not ready" }), " ",
      el("span", { class: "mono", title: "node id", text: n.id || "" }), " · ", "v" + (n.version || "?"),
      " · roles: " + (n.roles || []).join(", "));
    document.body.dataset.ready = n.ready ? "true" : "false";
    $("refresh-line").textContent = "Updated " + when(s.time) + (n.why ? " · not ready: " + n.why : "");

    $("readiness").replaceChildren(...(s.readiness || []).map((c) =>
      el("li", { "data-component": c.name },
        el("span", { class: "name", text: c.name }),
        el("span", { class: "badge", "data-state": c.state, text: c.state }),
        c.detail ? el("span", { class: "muted", text: c.detail }) : null)));

    const o = s.overlay;
    if (o && o.on) {
      kv($("overlay"), [["Peer", el("code", { text: o.peer })], ["DHT mode", o.dht || "?"],
        ["Routing table", num(o.routing_table) + " peers"], ["Connections", num(o.connections)],
        ["Reachability", (o.reachability || "?") + " (" + (o.network || "?") + ")"], ["Relays", num(o.relays)],
        ["Addresses", el("span", { class: "mono small", text: (o.addrs || []).join("\n") || "none" })]]);
    } else {
      kv($("overlay"), [["Overlay", errs.overlay || "off"]]);
    }

    const st = s.store;
    if (st) {
      const used = st.payload_bytes + st.outboard_bytes;
      const quota = st.quota_bytes > 0
        ? el("span", {}, el("meter", { min: 0, max: st.quota_bytes, value: used, "aria-label": "store use of quota" }),
          bytes(used) + " of " + bytes(st.quota_bytes) + " (" + Math.round(100 * used / st.quota_bytes) + "%)")
        : "none";
      kv($("store"), [["Objects", num(st.objects) + " (" + num(st.pinned) + " pinned)"], ["Payloads", bytes(st.payload_bytes)],
        ["Outboards", bytes(st.outboard_bytes)], ["Index", bytes(st.index_bytes)], ["Quota", quota],
        ["Disk free", bytes(st.free_bytes) + " (floor " + bytes(st.min_free_bytes) + ")"],
        ["Writes", st.writable ? "accepted" : "refused: the disk is full"]]);
    } else {
      kv($("store"), [["Store", errs.store || "not in this process"]]);
    }

    const m = s.mailbox;
    if (m) {
      const out = Object.entries(m.outbox || {}).map(([k, v]) => k + " " + v).join(", ") || "empty";
      kv($("mailbox"), [["Address", el("code", { text: m.address || "none" })], ["Inbox", num(m.inbox) + " messages"],
        ["Outbox", out]]);
    } else {
      kv($("mailbox"), [["Mailbox", errs.mailbox || "off"]]);
    }

    fill($("plugins").tBodies[0], (s.plugins || []).map((p) => el("tr", { "data-tld": p.tld },
      el("td", {}, el("strong", { text: "." + p.tld })),
      el("td", { title: p.hash, text: p.name }),
      el("td", { text: p.version }),
      el("td", { text: p.source }),
      el("td", { class: "mono", title: p.publisher || "", text: p.publisher ? short(p.publisher, 20) : "unsigned" }),
      el("td", { class: "num", text: num(p.calls) }),
      el("td", { class: "num", title: p.last_fault || "", text: num(p.faults) }),
      el("td", {}, el("span", { class: "badge", "data-state": p.quarantined ? "quarantined" : "ok",
        text: p.quarantined ? "quarantined" : "serving" })),
      el("td", { class: "num", text: p.mean_us ? (p.mean_us >= 1000 ? (p.mean_us / 1000).toFixed(1) + " ms" : p.mean_us.toFixed(0) + " µs") : "–" }))),
      9, errs.plugins || "No plugin is installed.");

    fill($("publishes").tBodies[0], (s.publishes || []).map((p) => el("tr", { "data-address": p.address },
      el("td", { text: when(p.published) }),
      el("td", { text: "." + p.tld }),
      el("td", { text: p.title || "" }),
      el("td", { class: "mono addr", text: p.address }),
      el("td", { class: "num", text: bytes(p.size) }),
      el("td", { class: "num", text: num(p.price) }))),
      6, errs.publishes || "Nothing published yet.");

    const pay = s.payouts || { epochs: [], balances: [] };
    fill($("epochs").tBodies[0], (pay.epochs || []).map((e) => el("tr", { "data-epoch": e.epoch, "data-paid": e.paid },
      el("td", { text: "#" + e.epoch }),
      el("td", { text: e.open ? "open" : (e.settled >= e.manifests ? "settled" : "sealed, " + (e.manifests - e.settled) + " to settle") }),
      el("td", { class: "num", text: num(e.requests) }),
      el("td", { class: "num", text: num(e.amount) }),
      el("td", { class: "num", text: num(e.paid) }),
      el("td", { text: Object.entries(e.by_role || {}).map(([r, a]) => r + " " + num(a)).join(", ") || "–" }))),
      6, errs.payouts || "No epoch yet.");
    fill($("balances").tBodies[0], (pay.balances || []).map((b) => el("tr", { "data-payee": b.payee },
      el("td", { class: "mono", text: b.payee }), el("td", { class: "num", text: num(b.amount) }))),
      2, "Nobody has been paid yet.");
  }

  async function settle() {
    const btn = $("settle"), out = $("settle-result");
    btn.disabled = true;
    out.textContent = "Settling…";
    try {
      const r = await api("/v1/payouts/settle", { method: "POST" });
      if (!r.ok) { out.textContent = "Refused: " + await errorText(r); return; }
      const res = await r.json();
      const ss = res.settlements || [];
      const paid = ss.reduce((a, x) => a + (x.amount || 0), 0), n = ss.reduce((a, x) => a + (x.settled || 0), 0);
      out.textContent = "Settled " + n + " manifest(s), " + num(paid) + " paid.";
      refresh();
    } catch (e) {
      if (e.message !== "unauthorized") out.textContent = "Failed: " + e.message;
    } finally {
      btn.disabled = false;
    }
  }

  function eventsState(s) {
    const b = $("events-state");
    b.dataset.state = s;
    b.textContent = s;
    document.body.dataset.events = s;
  }

  function addEvent(msg) {
    const list = $("events");
    const kind = (msg.subject || "").replace(/^ron\.evt\./, "");
    const ev = msg.event || {};
    const t = ev.time ? new Date(ev.time) : new Date();
    const body = Object.entries(ev).filter(([k]) => k !== "time" && k !== "node")
      .map(([k, v]) => k + "=" + (typeof v === "object" ? JSON.stringify(v) : v)).join("  ");
    list.prepend(el("li", { "data-subject": msg.subject },
      el("span", { class: "muted", text: t.toLocaleTimeString() }),
      el("span", { class: "kind", text: kind }),
      el("span", { class: "body mono", text: body })));
    while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
    if (/^(manifest|epoch|plugin|name)\./.test(kind)) refreshSoon();
  }

  // connectEvents reads the server-sent events with fetch (EventSource
  // cannot send an Authorization header) and reconnects when the stream
  // ends.
  async function connectEvents() {
    if (stream) stream.abort();
    clearTimeout(retryTimer);
    const ctl = new AbortController();
    stream = ctl;
    eventsState("connecting");
    try {
      const r = await api("/ui/api/events", { signal: ctl.signal, headers: { Accept: "text/event-stream" } });
      if (!r.ok || !r.body) throw new Error(await errorText(r));
      const reader = r.body.getReader(), dec = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let name = "message", data = "";
          for (const line of frame.split("\n")) {
            if (line.startsWith(": connected")) { eventsState("live"); retryDelay = 1000; }
            else if (line.startsWith("event:")) name = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (name === "ron.evt" && data) {
            try { addEvent(JSON.parse(data)); } catch (_) { /* a malformed frame is skipped */ }
          } else if (name === "dropped") {
            addEvent({ subject: "console.dropped", event: JSON.parse(data || "{}") });
          }
        }
      }
    } catch (e) {
      if (ctl.signal.aborted || e.message === "unauthorized") return;
    }
    if (stream !== ctl || !token) return;
    eventsState("offline");
    retryDelay = Math.min(retryDelay * 2, 30000); // 2 s, 4 s, … 30 s while the node refuses or is away
    retryTimer = setTimeout(connectEvents, retryDelay);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", () => signOut(""));
    $("settle").addEventListener("click", settle);
    $("events-clear").addEventListener("click", () => $("events").replaceChildren());
    eventsState("off");
    if (token) start(); else signOut("");
  });
})();
