/**
 * The operations UI's script, served as `admin.js` under the admin routes: plain ES5-style
 * JavaScript, no framework and no build step, so it costs a Worker only its own bytes. Held as text
 * (it runs in the browser, never here); the browser tests in admin-ui.*.test.ts exercise it.
 *
 * Hash routes, fetch to the JSON API under the same path, and DOM built with textContent only
 * (event data is attacker-controlled: it never reaches innerHTML). Mutations are POST with a JSON
 * body and the x-eventflows-admin header: a cross-site form cannot send either, and a cross-site
 * fetch with them needs a CORS preflight the routes never grant.
 *
 * The global feed, newest first, is watched live only while the tab is visible: over SSE from
 * `api/live` when the routes have a hub (`config.live`), else by polling. Why the feed's live watch is shaped as it is (kept out of the text: comments there ship to every
 * Worker): `EventSource` reconnects by itself with `Last-Event-ID`, so `onerror` acts only when it
 * has given up (readyState 2: the route refused it). A hidden tab closes its stream and reopens it
 * after the newest event shown when visible again; an event is added only past that newest position,
 * so a resumed stream or a late poll answer never shows one twice. Polls ask one at a time, so a
 * slow answer cannot let two add the same events. `route()` stops the stream of the view it leaves.
 * A read answered after the operator moved to another view is dropped (STALE): drawn, it would
 * replace the view shown now and start the feed's watch behind it. Actions (POST) are never dropped.
 * A hash that is not valid percent-encoding (a hand-edited or truncated link) is taken as typed:
 * `decodeURIComponent` would throw and leave the page at "Loading…" with no word of why.
 * The JSON views write the Unicode Bidi_Control characters as `\uXXXX` escapes: in a `<pre>`, a
 * right-to-left override in a key or value reversed the rest of its line (the JSON's own quotes and
 * colon, the value after a key), so the data read other than it is; escaped, it is the same JSON.
 */
export const ADMIN_SCRIPT = String.raw`
"use strict";
(function () {
  var main = document.getElementById("main");
  var notice = document.getElementById("notice");
  var live = document.getElementById("live-status");
  var config = { live: false, pollIntervalMs: 1000, projections: false, sagas: false };
  var timer = 0;
  var generation = 0;
  var STALE = {};
  var stopLive = function () {};

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, String(attrs[k]));
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "object" && c !== null ? c : document.createTextNode(c === undefined || c === null ? "" : String(c)));
    });
    return node;
  }
  function link(text, hash) { return el("a", { href: "#" + hash }, [text]); }
  function json(value) { return el("pre", { class: "json", tabindex: "0" }, [JSON.stringify(value, null, 2).replace(/[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, escapeChar)]); }
  function escapeChar(c) { return "\\u" + ("000" + c.charCodeAt(0).toString(16)).slice(-4); }
  function time(iso) { return el("time", { datetime: iso }, [String(iso).replace("T", " ").replace("Z", " UTC")]); }
  function table(caption, heads, rows) {
    return el("table", null, [
      el("caption", null, [caption]),
      el("thead", null, [el("tr", null, heads.map(function (h) { return el("th", { scope: "col" }, [h]); }))]),
      el("tbody", null, rows),
    ]);
  }
  function row(cells) { return el("tr", null, cells.map(function (c) { return el("td", null, [c]); })); }
  function show(nodes) {
    main.textContent = "";
    nodes.forEach(function (n) { main.appendChild(n); });
    var heading = main.querySelector("h2");
    if (heading) heading.focus();
  }
  function say(text, isError) {
    notice.textContent = String(text).replace(/[\u202A-\u202E\u2066-\u2069]/g, "");
    notice.className = isError ? "notice error" : "notice";
  }

  function api(path, body) {
    var asked = generation;
    var init = { credentials: "same-origin", headers: { "x-eventflows-admin": "1", accept: "application/json" } };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch("api/" + path, init).then(function (response) {
      return response.json().then(function (data) {
        if (body === undefined && asked !== generation) throw STALE;
        if (!response.ok) throw new Error((data && data.detail) || response.status + " " + response.statusText);
        return data;
      });
    });
  }
  function q(params) {
    var parts = [];
    for (var k in params) if (params[k] !== undefined && params[k] !== "") parts.push(k + "=" + encodeURIComponent(params[k]));
    return parts.length ? "?" + parts.join("&") : "";
  }
  function eventHash(e) { return "/event/" + encodeURIComponent(e.streamId) + "/" + e.version; }
  function streamHash(id) { return "/stream/" + encodeURIComponent(id); }
  function eventRow(e) {
    return row([String(e.globalPosition === undefined ? "" : e.globalPosition), link(e.streamId, streamHash(e.streamId)), String(e.version), link(e.type, eventHash(e)), time(e.timestamp)]);
  }
  function heading() { return el("h2", { tabindex: "-1" }, [].slice.call(arguments)); }
  function bdi(text) { return el("bdi", null, [text]); }

  function feed(params) {
    return api("feed" + q({ after: params.after, to: params.to, limit: 50 })).then(function (page) {
      var tbody = table("Events by global position, newest first", ["Position", "Stream", "Version", "Type", "Time"], page.events.slice().reverse().map(eventRow));
      var newest = page.events.length ? page.events[page.events.length - 1].globalPosition : page.after;
      var nav = el("p", { class: "pager" }, []);
      if (page.previous !== undefined) nav.appendChild(link("Older", "/feed?after=" + page.previous + "&to=" + page.after));
      if (page.next !== undefined) nav.appendChild(link("Newer", "/feed?after=" + page.next));
      var watch = el("input", { type: "checkbox", id: "watch" });
      var latest = params.after === undefined || page.next === undefined;
      if (latest) watch.setAttribute("checked", "");
      else watch.setAttribute("disabled", "");
      show([heading("Global feed"), el("p", { class: "controls" }, [watch, el("label", { for: "watch" }, [" Watch live (new events appear at the top)"])]), nav, tbody]);
      var body = tbody.querySelector("tbody");
      var added = 0;
      function watching() { return watch.checked && document.visibilityState === "visible" && document.body.contains(body); }
      function add(events) {
        events.forEach(function (e) {
          if (e.globalPosition <= newest) return;
          body.insertBefore(eventRow(e), body.firstChild);
          newest = e.globalPosition;
          added += 1;
        });
        live.textContent = added + (added === 1 ? " new event" : " new events");
      }
      if (config.live) {
        var source = null;
        var sync = function () {
          if (!watching()) { if (source) source.close(); source = null; return; }
          if (source) return;
          source = new EventSource("api/live" + q({ from: newest }));
          source.onmessage = function (message) {
            if (!watching()) return sync();
            add([JSON.parse(message.data)]);
          };
          source.onerror = function () {
            if (source && source.readyState === 2) { source = null; say("The live feed was refused; reload to try again.", true); }
          };
        };
        document.addEventListener("visibilitychange", sync);
        watch.addEventListener("change", sync);
        stopLive = function () { if (source) source.close(); source = null; document.removeEventListener("visibilitychange", sync); };
        sync();
        return;
      }
      var asking = false;
      function poll() {
        if (asking || !watching()) return;
        asking = true;
        api("feed" + q({ after: newest, limit: 100 })).then(function (more) {
          asking = false;
          if (!document.body.contains(body) || more.events.length === 0) return;
          add(more.events);
        }, function (error) { asking = false; if (error !== STALE) say(error.message, true); });
      }
      timer = setInterval(poll, config.pollIntervalMs);
    });
  }

  function streams(params) {
    return api("streams" + q({ prefix: params.prefix, limit: 100 })).then(function (list) {
      var input = el("input", { id: "prefix", name: "prefix", type: "search", value: params.prefix || "" });
      var form = el("form", { role: "search" }, [el("label", { for: "prefix" }, ["Stream id starts with "]), input, el("button", { type: "submit" }, ["Filter"])]);
      form.addEventListener("submit", function (ev) { ev.preventDefault(); location.hash = "/streams" + q({ prefix: input.value }); });
      var idInput = el("input", { id: "stream-id", name: "id", type: "text", autocomplete: "off" });
      var open = el("form", null, [el("label", { for: "stream-id" }, ["Open a stream by id "]), idInput, el("button", { type: "submit" }, ["Open"])]);
      open.addEventListener("submit", function (ev) { ev.preventDefault(); if (idInput.value) location.hash = streamHash(idInput.value); });
      show([heading("Streams"), open, el("p", null, ["Streams with events among the newest " + list.scanned + " of the global feed, most recent first."]), form,
        table("Streams", ["Stream", "Category", "Version", "Last event", "Time"], list.streams.map(function (s) {
          return row([link(s.streamId, streamHash(s.streamId)), s.category, String(s.version), s.lastType, time(s.lastTimestamp)]);
        }))]);
    });
  }

  function stream(id, params) {
    return api("stream" + q({ id: id, from: params.from, limit: 50 })).then(function (page) {
      var nav = el("p", { class: "pager" }, []);
      if (page.from > 1) nav.appendChild(link("Earlier", streamHash(id) + "?from=" + Math.max(1, page.from - 50)));
      if (page.next !== undefined) nav.appendChild(link("Later", streamHash(id) + "?from=" + page.next));
      show([heading("Stream ", bdi(id)), el("p", null, ["Version " + page.version + "."]), nav,
        table("Events of the stream, by version", ["Position", "Stream", "Version", "Type", "Time"], page.events.map(eventRow))]);
    });
  }

  function eventView(streamId, version) {
    return api("event" + q({ stream: streamId, version: version })).then(function (found) {
      var e = found.event;
      var fields = [["Id", e.id], ["Type", e.type], ["Stream", link(e.streamId, streamHash(e.streamId))], ["Version", String(e.version)], ["Global position", String(e.globalPosition === undefined ? "none" : e.globalPosition)], ["Time", time(e.timestamp)]];
      if (found.trace) {
        var t = found.trace;
        var url = typeof t.url === "string" && /^https?:\/\//i.test(t.url) ? t.url : undefined;
        fields.push(["Trace", url ? el("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, [t.traceId]) : t.traceId]);
      }
      var dl = el("dl", null, []);
      fields.forEach(function (f) { dl.appendChild(el("dt", null, [f[0]])); dl.appendChild(el("dd", null, [f[1]])); });
      show([heading(bdi(e.type), " #" + e.version + " of ", bdi(e.streamId)), dl, el("h3", null, ["Data"]), json(e.data), el("h3", null, ["Metadata"]), json(e.metadata)]);
    });
  }

  function projections() {
    return api("projections").then(function (list) {
      var rows = list.projections.map(function (p) {
        var status = p.failure ? "failed: " + p.failure : p.running ? (p.active ? "running (active)" : "running (standby)") : "not running here";
        return row([p.name, String(p.position), String(p.head), String(p.behind), status]);
      });
      var select = el("select", { id: "replay-projection", name: "projection" }, list.projections.filter(function (p) { return !p.stateful; }).map(function (p) { return el("option", { value: p.name }, [p.name]); }));
      var streamInput = el("input", { id: "replay-stream", name: "stream", type: "text", autocomplete: "off" });
      var afterInput = el("input", { id: "replay-after", name: "after", type: "number", min: "0", inputmode: "numeric" });
      var toInput = el("input", { id: "replay-to", name: "to", type: "number", min: "0", inputmode: "numeric" });
      var out = el("div", { id: "replay-result", "aria-live": "polite" }, []);
      var form = el("form", { id: "replay" }, [
        el("h3", null, ["Replay into a projection"]),
        el("p", null, ["A dry run first shows what would be written; confirm then replays exactly those events. The checkpoint does not move."]),
        el("p", null, [el("label", { for: "replay-projection" }, ["Projection "]), select]),
        el("p", null, [el("label", { for: "replay-stream" }, ["Stream (empty: the global feed) "]), streamInput]),
        el("p", null, [el("label", { for: "replay-after" }, ["After (exclusive; a version for a stream, a position for the feed) "]), afterInput]),
        el("p", null, [el("label", { for: "replay-to" }, ["Up to (inclusive; empty: the end) "]), toInput]),
        el("button", { type: "submit" }, ["Dry run"]), out]);
      function request(dryRun, to) {
        var body = { projection: select.value, dryRun: dryRun };
        if (streamInput.value) body.stream = streamInput.value;
        if (afterInput.value) body.after = Number(afterInput.value);
        if (to !== undefined) body.to = to;
        return body;
      }
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        out.textContent = "Dry run…";
        var body = request(true, toInput.value ? Number(toInput.value) : undefined);
        api("projections/replay", body).then(function (r) {
          out.textContent = "";
          out.appendChild(el("p", { class: "summary" }, ["Dry run: " + r.read + " events read, " + r.handled + " handled; " + r.writes + " writes to " + r.changes.length + (r.truncated ? "+" : "") + " document(s); up to " + r.position + "."]));
          out.appendChild(table("What the replay would change", ["Collection", "Id", "Now", "After the replay"], r.changes.map(function (c) {
            return row([c.collection, c.id, c.before === undefined ? "(none)" : json(c.before), c.deleted ? "(deleted)" : json(c.after)]);
          })));
          var confirm = el("button", { type: "button", id: "confirm-replay", class: "danger" }, ["Confirm replay of " + r.read + " events"]);
          confirm.addEventListener("click", function () {
            confirm.setAttribute("disabled", "");
            api("projections/replay", request(false, r.position)).then(function (done) {
              out.appendChild(el("p", { class: "summary", role: "status" }, ["Replayed: " + done.handled + " events handled, " + done.writes + " writes made."]));
            }, function (error) { say(error.message, true); });
          });
          out.appendChild(confirm);
        }, function (error) { out.textContent = ""; say(error.message, true); });
      });
      show([heading("Projections"), table("Projections and their lag", ["Name", "Checkpoint", "Head", "Behind (positions)", "Status"], rows), list.projections.length ? form : el("p", null, ["No projections were given to the admin routes."])]);
    });
  }

  function sagas() {
    return api("sagas").then(function (list) {
      var rows = list.attention.map(function (s) {
        var button = el("button", { type: "button", class: "resume" }, ["Resume"]);
        button.setAttribute("aria-label", "Resume " + s.saga + " " + s.key);
        button.addEventListener("click", function () {
          button.setAttribute("disabled", "");
          api("sagas/resume", { saga: s.saga, key: s.key }).then(function (r) { sagas().then(function () { say("Resumed " + r.saga + " " + r.key + ": now " + r.status + "."); }, function (error) { if (error !== STALE) say(error.message, true); }); }, function (error) { say(error.message, true); button.removeAttribute("disabled"); });
        });
        var a = s.attention || {};
        return row([s.saga, s.key, a.commandType, a.error, String(a.attempts), a.at ? time(a.at) : "", button]);
      });
      show([heading("Sagas needing attention"), list.enabled ? table("Parked instances", ["Saga", "Key", "Command", "Error", "Attempts", "Since", "Action"], rows) : el("p", null, ["No saga runtime was given to the admin routes."]),
        el("h3", null, ["Recorded step failures"]), table("Failed steps, oldest first", ["Saga", "Key", "Event type", "Error", "Time"], list.failures.map(function (f) { return row([f.saga, f.key || "", f.eventType, f.error, time(f.at)]); }))]);
    });
  }

  function decode(text) { try { return decodeURIComponent(text); } catch (e) { return text; } }
  function route() {
    generation += 1;
    clearInterval(timer);
    stopLive();
    stopLive = function () {};
    var hash = location.hash.replace(/^#/, "") || "/feed";
    var query = hash.indexOf("?");
    var path = query === -1 ? hash : hash.slice(0, query);
    var params = {};
    if (query !== -1) hash.slice(query + 1).split("&").forEach(function (p) { var kv = p.split("="); params[decode(kv[0])] = decode(kv[1] || ""); });
    var parts = path.split("/").map(decode);
    document.querySelectorAll("nav a").forEach(function (a) {
      if (a.getAttribute("href") === "#/" + parts[1]) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    say("");
    var view = parts[1] === "streams" ? streams(params)
      : parts[1] === "stream" ? stream(parts[2], params)
      : parts[1] === "event" ? eventView(parts[2], parts[3])
      : parts[1] === "projections" ? projections()
      : parts[1] === "sagas" ? sagas()
      : feed(params);
    view.catch(function (error) { if (error !== STALE) say(error.message, true); });
  }

  api("config").then(function (c) { config = c; }).catch(function () {}).then(function () {
    window.addEventListener("hashchange", route);
    route();
  });
})();
`;
