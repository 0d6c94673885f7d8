// The vmdispatch status page. It reads the management API of the
// dispatcher that served it (same origin) with the operator's management
// token, which it keeps in sessionStorage only, and never puts in the
// DOM, a URL or a cookie.
"use strict";

(() => {
  const API = "/arvados/v1/dispatch/";
  const TOKEN_KEY = "vmdispatch.managementToken";
  const REFRESH_MS = 5000;
  // After an action, the next refresh comes sooner: the dispatcher
  // carries out most requests within a second.
  const AFTER_ACTION_MS = 1000;
  // Clock differences below this are Date-header rounding, not skew.
  const SKEW_MIN_MS = 2000;
  const INSTANCE_STATES = ["unknown", "booting", "idle", "running", "shutdown"];
  const CONTAINER_STATES = ["Queued", "Locked", "Running", "Complete", "Cancelled"];

  const $ = (id) => document.getElementById(id);

  let timer = null;
  let generation = 0; // the latest refresh; older answers are dropped
  let skew = 0; // server clock minus browser clock, in ms
  let lastOK = null;
  let soon = false; // the next refresh follows an action
  let killTarget = null; // {kind, id} while the kill dialog is open
  const pending = new Set(); // "action id" of requests in flight

  // AuthError is a 401 or 403: the token is missing or wrong.
  class AuthError extends Error {}

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  // api calls the management API and returns the decoded JSON body.
  // Errors carry the server's message ({"errors": [...]}).
  async function api(method, path, params) {
    const t = token();
    if (!t) throw new AuthError("");
    const init = {
      method,
      headers: { Authorization: "Bearer " + t, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    };
    if (params) init.body = new URLSearchParams(params);
    let resp;
    try {
      resp = await fetch(API + path, init);
    } catch (e) {
      throw new Error(`cannot reach the dispatcher (${e.message})`);
    }
    const date = Date.parse(resp.headers.get("Date") || "");
    if (!Number.isNaN(date)) {
      const s = date - Date.now();
      skew = Math.abs(s) < SKEW_MIN_MS ? 0 : s;
    }
    const text = await resp.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the message is the text itself.
    }
    if (!resp.ok) {
      const msg = (body && Array.isArray(body.errors) && body.errors.join("; ")) ||
        text.trim() || resp.statusText;
      if (resp.status === 401 || resp.status === 403) {
        throw new AuthError(`${resp.status} ${msg}`);
      }
      throw new Error(`${method} ${path}: ${resp.status} ${msg}`);
    }
    return body;
  }

  // ---- formatting ----

  // micro converts a price to integer micro-units, so sums do not
  // depend on the order they are added in.
  const micro = (price) => Math.round((Number(price) || 0) * 1e6);

  function formatPrice(m) {
    let s = (m / 1e6).toFixed(6);
    while (s.endsWith("0") && s.length - s.indexOf(".") > 3) s = s.slice(0, -1);
    return s;
  }

  // parseTime returns the time in ms, or null for a missing or zero
  // Go time ("0001-01-01T00:00:00Z").
  function parseTime(s) {
    if (!s) return null;
    const t = Date.parse(s);
    if (Number.isNaN(t) || t <= 0) return null;
    return t;
  }

  function formatDuration(ms) {
    let s = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    s %= 60;
    const two = (n) => String(n).padStart(2, "0");
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${two(m)}m`;
    if (m > 0) return `${m}m ${two(s)}s`;
    return `${s}s`;
  }

  const since = (t) => formatDuration(Date.now() + skew - t);

  const clock = (d) => d.toLocaleTimeString([], { hour12: false });

  // countStates returns "a 1, b 2" in the canonical order, then any
  // other states alphabetically.
  function countStates(items, stateOf, order) {
    const n = new Map();
    for (const it of items) {
      const s = stateOf(it) || "?";
      n.set(s, (n.get(s) || 0) + 1);
    }
    const keys = [...n.keys()].sort((a, b) => {
      const ia = order.indexOf(a), ib = order.indexOf(b);
      if (ia !== ib) return (ia < 0 ? order.length : ia) - (ib < 0 ? order.length : ib);
      return a < b ? -1 : a > b ? 1 : 0;
    });
    return keys.map((k) => `${k} ${n.get(k)}`).join(", ");
  }

  // ---- DOM helpers ----

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function setAttr(el, name, value) {
    if (value === null || value === undefined) {
      el.removeAttribute(name);
    } else if (el.getAttribute(name) !== value) {
      el.setAttribute(name, value);
    }
  }

  const field = (tr, name) => tr.querySelector(`[data-field="${name}"]`);

  function cell(tag, name, cls) {
    const td = document.createElement(tag);
    td.dataset.field = name;
    if (tag === "th") td.scope = "row";
    if (cls) td.className = cls;
    return td;
  }

  function actionButton(action, label, cls) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.action = action;
    b.textContent = label;
    if (cls) b.className = cls;
    return b;
  }

  // syncRows makes tbody's rows match items, in order, reusing the row of
  // each key so that focus and open state survive a refresh.
  function syncRows(tbody, items, keyOf, build, update) {
    const old = new Map();
    for (const tr of tbody.rows) old.set(tr.dataset.key, tr);
    let prev = null;
    items.forEach((item, i) => {
      const key = keyOf(item, i);
      let tr = old.get(key);
      if (tr) old.delete(key);
      else {
        tr = build(item);
        tr.dataset.key = key;
      }
      update(tr, item);
      const want = prev ? prev.nextElementSibling : tbody.firstElementChild;
      if (tr !== want) tbody.insertBefore(tr, want);
      prev = tr;
    });
    for (const tr of old.values()) tr.remove();
  }

  // ---- instances ----

  function buildInstance(item) {
    const tr = document.createElement("tr");
    tr.dataset.instance = item.instance || "";
    tr.append(
      cell("th", "instance", "id"),
      cell("td", "worker_state"),
      cell("td", "instance_type"),
      cell("td", "idle_behavior"),
      cell("td", "running_container_uuids", "list id"),
      cell("td", "price", "num"),
      cell("td", "last_busy", "time"),
      cell("td", "age", "age time"),
    );
    const actions = cell("td", "actions", "actions");
    if (item.instance) {
      actions.append(
        actionButton("hold", "Hold"),
        actionButton("drain", "Drain"),
        actionButton("run", "Run"),
        actionButton("kill", "Kill", "danger"),
      );
    } else {
      actions.textContent = "(being created)";
    }
    tr.append(actions);
    return tr;
  }

  function updateInstance(tr, item) {
    const id = item.instance || "";
    setText(field(tr, "instance"), id || "(creating)");
    const addr = item.address ? `address ${item.address}` : null;
    setAttr(field(tr, "instance"), "title", addr);

    const state = item.worker_state || "";
    const st = field(tr, "worker_state");
    setText(st, state);
    setAttr(st, "class", `state state-${state}`);
    tr.dataset.state = state;

    const type = field(tr, "instance_type");
    const names = [item.arvados_instance_type, item.provider_instance_type].filter(Boolean);
    const typeText = names.length === 2 && names[0] !== names[1] ?
      `${names[0]} (${names[1]})` : (names[0] || "");
    setText(type, typeText);

    const behavior = item.idle_behavior || "";
    const ib = field(tr, "idle_behavior");
    setText(ib, behavior);
    setAttr(ib, "class", `behavior behavior-${behavior}`);
    tr.dataset.idleBehavior = behavior;

    const running = item.running_container_uuids || [];
    setText(field(tr, "running_container_uuids"), running.length ? running.join("\n") : "—");

    setText(field(tr, "price"), formatPrice(micro(item.price)));

    const busy = parseTime(item.last_busy);
    const lb = field(tr, "last_busy");
    let busyText = "—";
    if (state === "running") busyText = "busy";
    else if (busy !== null && state === "idle") busyText = `idle for ${since(busy)}`;
    else if (busy !== null) busyText = `${since(busy)} ago`;
    setText(lb, busyText);
    setAttr(lb, "title", busy === null ? null : new Date(busy).toISOString());

    // Age: since this dispatcher first knew the VM (first_seen_at, which
    // vmdispatch adds to the §7 fields; its create answer or first
    // listing). Creates in flight have none.
    const seen = parseTime(item.first_seen_at);
    setText(field(tr, "age"), seen === null ? "—" : since(seen));
    setAttr(field(tr, "age"), "title", seen === null ? null : "first seen by this dispatcher at " + new Date(seen).toISOString());

    for (const b of tr.querySelectorAll("button[data-action]")) {
      const a = b.dataset.action;
      const verb = b.textContent;
      setAttr(b, "aria-label", `${verb} instance ${id}`);
      if (a !== "kill") setAttr(b, "aria-pressed", String(a === behavior));
      b.disabled = pending.has(`${a} ${id}`) || state === "shutdown";
    }
  }

  function instanceKey(item, i) {
    return item.instance ? "i:" + item.instance : `pending:${item.arvados_instance_type}:${i}`;
  }

  // ---- containers ----

  function buildContainer() {
    const tr = document.createElement("tr");
    tr.append(
      cell("th", "uuid", "id"),
      cell("td", "state"),
      cell("td", "priority", "num"),
      cell("td", "instance_types", "list"),
      cell("td", "scheduling_status"),
      cell("td", "first_seen_at", "time"),
      cell("td", "instance", "list id"),
    );
    const actions = cell("td", "actions", "actions");
    actions.append(actionButton("kill", "Kill", "danger"));
    tr.append(actions);
    return tr;
  }

  function updateContainer(tr, entry, onInstances) {
    const c = entry.container || {};
    const uuid = c.uuid || "";
    tr.dataset.container = uuid;
    setText(field(tr, "uuid"), uuid);
    const st = field(tr, "state");
    setText(st, c.state || "");
    setAttr(st, "class", `state state-${(c.state || "").toLowerCase()}`);
    tr.dataset.state = c.state || "";
    setText(field(tr, "priority"), String(c.priority ?? ""));

    const types = (entry.instance_types || []).slice().sort((a, b) =>
      (micro(a.Price) - micro(b.Price)) || String(a.ProviderType).localeCompare(String(b.ProviderType)));
    setText(field(tr, "instance_types"),
      types.map((t) => `${t.ProviderType} ${formatPrice(micro(t.Price))}/h${t.Preemptible ? " (preemptible)" : ""}`).join("\n") || "—");

    setText(field(tr, "scheduling_status"), entry.scheduling_status || "");

    const seen = parseTime(entry.first_seen_at);
    const fs = field(tr, "first_seen_at");
    setText(fs, seen === null ? "—" : `${since(seen)} ago`);
    setAttr(fs, "title", seen === null ? null : new Date(seen).toISOString());

    const on = onInstances.get(uuid) || [];
    setText(field(tr, "instance"), on.length ? on.join("\n") : "—");

    const kill = tr.querySelector('button[data-action="kill"]');
    kill.hidden = on.length === 0;
    kill.disabled = pending.has(`kill ${uuid}`);
    setAttr(kill, "aria-label", `Kill container ${uuid}`);
  }

  // ---- rendering ----

  function render(instances, queue) {
    const onInstances = new Map();
    for (const it of instances) {
      for (const uuid of it.running_container_uuids || []) {
        if (!onInstances.has(uuid)) onInstances.set(uuid, []);
        onInstances.get(uuid).push(it.instance || "(creating)");
      }
    }

    syncRows($("instances").tBodies[0], instances, instanceKey, buildInstance, updateInstance);
    $("instances-empty").hidden = instances.length > 0;
    $("instances").classList.toggle("has-age", instances.some((it) => parseTime(it.first_seen_at) !== null));

    syncRows($("containers").tBodies[0], queue,
      (e, i) => "c:" + ((e.container && e.container.uuid) || i),
      buildContainer, (tr, e) => updateContainer(tr, e, onInstances));
    $("containers-empty").hidden = queue.length > 0;

    const summary = $("summary");
    setText(field(summary, "instance_count"), String(instances.length));
    setText(field(summary, "instance_states"),
      instances.length ? `(${countStates(instances, (it) => it.worker_state, INSTANCE_STATES)})` : "");
    const total = instances.reduce((sum, it) => sum + micro(it.price), 0);
    setText(field(summary, "hourly_price"), formatPrice(total));
    setText(field(summary, "queue_length"), String(queue.length));
    setText(field(summary, "queue_states"),
      queue.length ? `(${countStates(queue, (e) => e.container && e.container.state, CONTAINER_STATES)})` : "");
  }

  function clearTables() {
    for (const id of ["instances", "containers"]) $(id).tBodies[0].replaceChildren();
  }

  function showError(msg) {
    const el = $("error");
    setText(el, msg);
    el.hidden = !msg;
  }

  function showStatus() {
    const el = $("last-refresh");
    if (lastOK) {
      setText(el, `Last refreshed at ${clock(lastOK)}.`);
      el.dataset.time = lastOK.toISOString();
    } else {
      setText(el, "Not loaded yet.");
      delete el.dataset.time;
    }
  }

  // ---- refresh loop ----

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (token() && !document.hidden) timer = setTimeout(refresh, soon ? AFTER_ACTION_MS : REFRESH_MS);
    soon = false;
  }

  async function refresh() {
    if (!token()) {
      signOut("");
      return;
    }
    const gen = ++generation;
    clearTimeout(timer);
    try {
      const [instances, queue] = await Promise.all([api("GET", "instances"), api("GET", "containers")]);
      if (gen !== generation) return;
      render((instances && instances.items) || [], (queue && queue.items) || []);
      lastOK = new Date();
      showError("");
      showStatus();
    } catch (e) {
      if (gen !== generation) return;
      if (e instanceof AuthError) {
        signOut(e.message ? `The dispatcher refused the token: ${e.message}` : "");
        return;
      }
      showError(`Refresh failed: ${e.message}` + (lastOK ? ` (the tables show ${clock(lastOK)})` : ""));
    }
    if (gen === generation) schedule();
  }

  // ---- sign in and out ----

  function signIn(ev) {
    ev.preventDefault();
    const input = $("token");
    const t = input.value.trim();
    input.value = "";
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    $("login").hidden = true;
    setText($("login-message"), "");
    $("dashboard").hidden = false;
    $("refresh").hidden = false;
    $("sign-out").hidden = false;
    refresh();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    generation++;
    clearTimeout(timer);
    timer = null;
    lastOK = null;
    clearTables();
    showError("");
    showStatus();
    setText($("action-status"), "");
    $("dashboard").hidden = true;
    $("refresh").hidden = true;
    $("sign-out").hidden = true;
    setText($("login-message"), message || "");
    $("login").hidden = false;
    $("token").focus();
  }

  function showDashboard() {
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("refresh").hidden = false;
    $("sign-out").hidden = false;
  }

  // ---- actions ----

  async function act(action, path, params, id, what, button) {
    const key = `${action} ${id}`;
    pending.add(key);
    if (button) button.disabled = true;
    setText($("action-status"), `${what}: sending…`);
    try {
      await api("POST", path, params);
      setText($("action-status"), `${what}: done.`);
    } catch (e) {
      if (e instanceof AuthError) {
        signOut(`The dispatcher refused the token: ${e.message}`);
        return;
      }
      setText($("action-status"), "");
      showError(`${what} failed: ${e.message}`);
    } finally {
      pending.delete(key);
      if (button) button.disabled = false;
    }
    soon = true;
    refresh();
  }

  function onTableClick(ev) {
    const b = ev.target.closest("button[data-action]");
    if (!b || b.disabled) return;
    const tr = b.closest("tr");
    const action = b.dataset.action;
    if (tr.dataset.instance !== undefined) {
      const id = tr.dataset.instance;
      if (!id) return;
      if (action === "kill") {
        openKill("instance", id);
        return;
      }
      act(action, `instances/${action}`, { instance_id: id }, id,
        `${b.textContent} instance ${id}`, b);
    } else if (tr.dataset.container && action === "kill") {
      openKill("container", tr.dataset.container);
    }
  }

  function openKill(kind, id) {
    killTarget = { kind, id };
    setText($("kill-title"), `Kill ${kind} ${id}?`);
    setText($("kill-text"), kind === "instance" ?
      "The instance is destroyed now, with any container running on it." :
      "The container's crunch-run is sent SIGTERM. It ends Cancelled, or goes back to the queue if it had not started yet.");
    const reason = $("kill-reason");
    reason.value = "";
    $("kill-dialog").showModal();
    reason.focus();
  }

  function closeKill() {
    killTarget = null;
    if ($("kill-dialog").open) $("kill-dialog").close();
  }

  function confirmKill(ev) {
    ev.preventDefault();
    const t = killTarget;
    const reason = $("kill-reason").value.trim();
    if (!t || !reason) return;
    closeKill();
    if (t.kind === "instance") {
      act("kill", "instances/kill", { instance_id: t.id, reason }, t.id, `Kill instance ${t.id}`);
    } else {
      act("kill", "containers/kill", { container_uuid: t.id, reason }, t.id, `Kill container ${t.id}`);
    }
  }

  function start() {
    $("login").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", () => signOut("Token forgotten."));
    $("refresh").addEventListener("click", refresh);
    $("instances").addEventListener("click", onTableClick);
    $("containers").addEventListener("click", onTableClick);
    $("kill-form").addEventListener("submit", confirmKill);
    $("kill-cancel").addEventListener("click", closeKill);
    $("kill-dialog").addEventListener("close", () => { killTarget = null; });
    document.addEventListener("visibilitychange", () => {
      if (!token()) return;
      if (document.hidden) {
        clearTimeout(timer);
        timer = null;
      } else {
        refresh();
      }
    });
    if (token()) {
      showDashboard();
      refresh();
    } else {
      signOut("");
    }
  }

  start();
})();
