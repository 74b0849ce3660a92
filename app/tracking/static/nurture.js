/*! Nurture site snippet. On every page of your site:
 *   <script async src="https://YOUR-NURTURE-HOST/t/s/nurture.js"></script>
 * A click from a Nurture email lands with ?nt=<token> (a signed random id, never an address). The
 * snippet keeps it first-party (localStorage and a cookie on your domain), removes it from the
 * address bar, and reports page views (URL, title, seconds on the page, visit number) in batched
 * beacons. Visitors who never came from an email are not tracked; Global Privacy Control is honoured.
 * Forms with data-nurture-form get a hidden nt field, so a submission is tied to the reader. */
(function (w, d) {
  "use strict";
  if (w.__nurture) return;
  w.__nurture = true;
  if (navigator.globalPrivacyControl === true || w.nurtureConsent === false) return;
  var me = d.currentScript || d.querySelector('script[src*="/t/s/nurture.js"]');
  var base = me ? me.src.replace(/\/t\/s\/nurture\.js.*$/, "") : "";
  var KEY = "nurture", COOKIE = "_nurture", VISIT_GAP = 30 * 60 * 1000, BATCH = 5;
  var store = null;
  try { w.localStorage.setItem(KEY + ":t", "1"); w.localStorage.removeItem(KEY + ":t"); store = w.localStorage; } catch (e) {}

  function rid() {
    var a = new Uint8Array(12), s = "", i;
    (w.crypto || w.msCrypto).getRandomValues(a);
    for (i = 0; i < a.length; i++) s += ("0" + a[i].toString(16)).slice(-2);
    return s;
  }
  function readCookie() {
    var m = d.cookie.match(/(?:^|;\s*)_nurture=([^;]*)/);
    try { return m ? JSON.parse(decodeURIComponent(m[1])) : null; } catch (e) { return null; }
  }
  function load() {
    var s = null;
    try { s = store && JSON.parse(store.getItem(KEY) || "null"); } catch (e) {}
    s = s || readCookie() || {};
    s.q = s.q || [];
    return s;
  }
  function save(s) {
    try { if (store) store.setItem(KEY, JSON.stringify(s)); } catch (e) {}
    d.cookie = COOKIE + "=" + encodeURIComponent(JSON.stringify({ t: s.t, v: s.v, n: s.n, last: s.last })) +
      ";path=/;max-age=31536000;SameSite=Lax" + (location.protocol === "https:" ? ";Secure" : "");
  }

  var state = load(), now = Date.now();
  var params = new URLSearchParams(location.search), nt = params.get("nt");
  if (nt && /^[A-Za-z0-9_-]{20,64}$/.test(nt)) {
    state.t = nt;
    params["delete"]("nt");
    var clean = location.pathname + (params.toString() ? "?" + params.toString() : "") + location.hash;
    try { history.replaceState(history.state, "", clean); } catch (e) {}
  }
  if (!state.t) return;               // not a reader of our emails: nothing is recorded
  state.v = state.v || rid();
  if (!state.last || now - state.last > VISIT_GAP) state.n = (state.n || 0) + 1;
  state.last = now;
  save(state);

  var view = { id: rid(), u: location.href, ti: d.title, r: d.referrer, n: state.n, s: 0 };
  var visibleSince = d.visibilityState === "visible" ? now : null, seconds = 0, done = false;

  function flush() {
    if (!state.q.length) return;
    var body = JSON.stringify({ t: state.t, v: state.v, views: state.q.slice(0, 50) });
    var sent = false;
    try { sent = navigator.sendBeacon(base + "/t/s/collect", body); } catch (e) {}
    if (!sent && w.fetch) { try { fetch(base + "/t/s/collect", { method: "POST", body: body, keepalive: true, mode: "no-cors" }); sent = true; } catch (e) {} }
    if (sent) state.q = state.q.slice(50);
    save(state);
  }
  function finish() {
    if (done) return;
    if (visibleSince) { seconds += (Date.now() - visibleSince) / 1000; visibleSince = null; }
    view.s = Math.round(seconds * 10) / 10;
    state = load();
    state.q.push(view);
    done = true;
    flush();
  }
  d.addEventListener("visibilitychange", function () {
    if (d.visibilityState === "hidden") {
      if (visibleSince) { seconds += (Date.now() - visibleSince) / 1000; visibleSince = null; }
      finish();
    } else if (!done) { visibleSince = Date.now(); }
  });
  w.addEventListener("pagehide", finish);
  if (state.q.length >= BATCH) flush();

  function tagForms() {
    var forms = d.querySelectorAll("form[data-nurture-form]"), i, input;
    for (i = 0; i < forms.length; i++) {
      if (forms[i].querySelector('input[name="nt"]')) continue;
      input = d.createElement("input");
      input.type = "hidden"; input.name = "nt"; input.value = state.t;
      forms[i].appendChild(input);
    }
  }
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", tagForms); else tagForms();
})(window, document);
