/* Signaal panel: the flags of one conversation, live over server-sent events.
 * All text from the service or the user goes through el()/textContent, never parsed as HTML. */
"use strict";

(function () {
  /** el(tag, props, ...children): a DOM element; string children become text nodes, so
   * data is always shown as text (this is the page's only way to build markup). */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function meta(name) {
    const node = document.querySelector(`meta[name="signaal-${name}"]`);
    return node ? node.getAttribute("content") : "";
  }

  /** The counselor token: from the URL fragment (the embedding platform; never sent to a
   * server), else the demo token the service put in the page in demo mode. */
  function tokenFromPage(role) {
    const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    return hash.get(role === "platform" ? "platform_token" : "token") || hash.get("token") ||
      meta(`${role}-token`);
  }

  async function api(method, path, token, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (!response.ok) {
      const error = new Error(`HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.status === 204 ? null : response.json();
  }

  const PRIORITY = {
    urgent: { text: "Urgent", icon: "▲" },
    high: { text: "Hoog", icon: "◆" },
    normal: { text: "Normaal", icon: "●" },
  };
  const SOURCE = { rules: "regels", model: "model", both: "regels + model" };
  const VERDICT = {
    confirm: { text: "Bevestigd door jou", icon: "✓" },
    reject: { text: "Afgewezen door jou", icon: "✕" },
  };
  const STATUS = {
    connecting: { text: "Verbinden…", icon: "…" },
    open: { text: "Verbonden", icon: "●" },
    lost: { text: "Verbinding verbroken — opnieuw verbinden…", icon: "!" },
  };

  /** Plain-language band of a score: laag < 0.5 <= middel < 0.8 <= hoog. */
  function band(score) {
    return score >= 0.8 ? "hoog" : score >= 0.5 ? "middel" : "laag";
  }
  const BARS = { laag: 1, middel: 2, hoog: 3 };
  const NEW_MS = 8000; // how long a new flag keeps its soft highlight

  function number(score) {
    return Number(score).toLocaleString("nl-NL", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function reasonText(state) {
    const reason = String(state.reason || "");
    const words = reason.includes(":") ? reason.slice(reason.indexOf(":") + 1).trim() : reason;
    return words ? `Reden: ${words}` : "";
  }

  /** Evidence without overlapping repeats: per message, the longest of overlapping ranges. */
  function distinct(evidence) {
    const kept = [];
    const sorted = [...evidence].sort((a, b) => (b.end - b.start) - (a.end - a.start));
    for (const e of sorted) {
      const overlaps = kept.some((k) => k.message === e.message && e.start < k.end && k.start < e.end);
      if (!overlaps) kept.push(e);
    }
    return kept.sort((a, b) => (a.message - b.message) || (a.start - b.start)).slice(0, 4);
  }

  class Panel {
    /** root: the element to fill; options: {conversation, token, showEvidence(evidence)} */
    constructor(root, options) {
      this.root = root;
      this.options = options;
      this.source = null;
      this.retry = 1000;
      this.retryTimer = null;
      this.state = null;
      this.known = null; // labels shown so far (null until the first state: no announcement)
      this.newUntil = new Map(); // label -> time its "new" highlight ends
      this.newTimers = new Map();
      this.build();
      window.addEventListener("offline", () => this.lost());
      window.addEventListener("online", () => this.connect());
    }

    get conversation() { return this.options.conversation; }

    build() {
      const r = this.root;
      r.replaceChildren();
      this.statusNode = el("p", { class: "status", role: "status", "data-state": "connecting" },
        el("span", { class: "status-icon", "aria-hidden": "true" }), el("span", { class: "status-text" }));
      r.append(el("header", { class: "panel-head" },
        el("h2", { id: "panel-title" }, "Signalen"), this.statusNode));
      r.append(el("p", { class: "note" },
        el("span", { class: "note-icon", "aria-hidden": "true" }, "i"),
        " Signaal doet een suggestie; jij beslist."));
      this.badge = el("p", { class: "badge" },
        el("span", { class: "badge-icon", "aria-hidden": "true" }), el("span", { class: "badge-text" }));
      this.reason = el("p", { class: "reason" });
      this.priority = el("div", { class: "priority", "data-priority": "none" }, this.badge, this.reason);
      this.flags = el("ul", { class: "flags", "aria-label": "Signalen in dit gesprek" });
      this.empty = el("p", { class: "empty" }, "Nog geen signalen in dit gesprek.");
      this.error = el("p", { class: "panel-error error", role: "alert" });
      this.live = el("div", { class: "visually-hidden", "aria-live": "polite", "aria-atomic": "true" });
      this.liveUrgent = el("div", { class: "visually-hidden", "aria-live": "assertive", "aria-atomic": "true" });
      r.append(this.priority, this.flags, this.empty, this.error, this.live, this.liveUrgent);
      this.setStatus("connecting");
      this.render({ priority: null, flags: [] });
    }

    setStatus(name) {
      const s = STATUS[name];
      this.statusNode.dataset.state = name;
      this.statusNode.querySelector(".status-icon").textContent = s.icon;
      this.statusNode.querySelector(".status-text").textContent = s.text;
    }

    /** Switch to another conversation (the demo's "Nieuw gesprek"). */
    setConversation(id) {
      this.close();
      this.options.conversation = id;
      this.state = null;
      this.known = null;
      this.newUntil.clear();
      this.render({ priority: null, flags: [] });
      this.start();
    }

    async start() {
      await this.refresh();
      this.connect();
    }

    /** Fetch the state now (on load and after a reconnect: catch up on missed updates). */
    async refresh() {
      try {
        const state = await api("GET", this.path(), this.options.token);
        this.update(state);
        this.error.textContent = "";
      } catch (err) {
        if (err.status === 404) this.update({ priority: null, flags: [] });
        else if (err.status === 401 || err.status === 403) this.error.textContent = "Geen toegang: de sleutel (token) ontbreekt of klopt niet.";
      }
    }

    path(suffix) {
      return `/v1/conversations/${encodeURIComponent(this.conversation)}${suffix || ""}`;
    }

    connect() {
      this.close();
      if (!this.conversation) return;
      if (navigator.onLine === false) { this.lost(); return; }
      const url = this.path(`/events?token=${encodeURIComponent(this.options.token)}`);
      const source = new EventSource(url);
      this.source = source;
      source.addEventListener("open", () => {
        if (this.source !== source) return;
        this.retry = 1000;
        this.setStatus("open");
        this.refresh();
      });
      source.addEventListener("update", (event) => {
        if (this.source !== source) return;
        try { this.update(JSON.parse(event.data)); } catch (e) { /* a bad event: keep the last state */ }
      });
      source.addEventListener("deleted", () => {
        if (this.source !== source) return;
        this.close();
        this.update({ priority: null, flags: [] });
        this.error.textContent = "Dit gesprek is beëindigd.";
      });
      source.addEventListener("error", () => {
        if (this.source !== source) return;
        this.setStatus("lost");
        // EventSource retries by itself unless it gave up (CLOSED): then we retry, with backoff
        if (source.readyState === EventSource.CLOSED) this.schedule();
      });
    }

    lost() {
      this.close();
      this.setStatus("lost");
      this.schedule();
    }

    schedule() {
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 30000);
    }

    close() {
      clearTimeout(this.retryTimer);
      if (this.source) this.source.close();
      this.source = null;
    }

    /** A new state from the service (GET, event or POST reply): render, announce what is new. */
    update(state) {
      const labels = new Set((state.flags || []).map((f) => f.label));
      const fresh = this.known === null ? [] : (state.flags || []).filter((f) => !this.known.has(f.label));
      const wasUrgent = this.state && this.state.priority === "urgent";
      this.state = state;
      this.known = labels;
      for (const f of fresh) this.newUntil.set(f.label, Date.now() + NEW_MS);
      this.render(state, new Set(fresh.map((f) => f.label)));
      if (fresh.length) this.announce(state, fresh, state.priority === "urgent" && !wasUrgent);
    }

    announce(state, fresh, urgent) {
      const names = fresh.map((f) => f.name || f.label).join(", ");
      const prio = PRIORITY[state.priority] ? ` Prioriteit: ${PRIORITY[state.priority].text}.` : "";
      const text = `${fresh.length === 1 ? "Nieuw signaal" : "Nieuwe signalen"}: ${names}.${prio}`;
      // clear first so the same words are announced again
      const region = urgent ? this.liveUrgent : this.live;
      region.textContent = "";
      setTimeout(() => { region.textContent = text; }, 50);
    }

    verdicts() {
      try {
        return JSON.parse(sessionStorage.getItem(`signaal:verdicts:${this.conversation}`) || "{}");
      } catch (e) { return {}; }
    }

    saveVerdict(label, verdict) {
      const all = this.verdicts();
      if (verdict) all[label] = verdict; else delete all[label];
      sessionStorage.setItem(`signaal:verdicts:${this.conversation}`, JSON.stringify(all));
    }

    async feedback(label, verdict) {
      try {
        await api("POST", this.path("/feedback"), this.options.counselorToken || this.options.token,
          { label, verdict });
        this.saveVerdict(label, verdict === "undo" ? null : verdict);
        this.error.textContent = "";
        if (this.state) {
          const verdicts = { ...(this.state.verdicts || {}) };
          if (verdict === "undo") delete verdicts[label]; else verdicts[label] = verdict;
          this.state.verdicts = verdicts;
          this.render(this.state);
        }
        const focusKey = `${label}:${verdict === "undo" ? "confirm" : "undo"}`;
        const target = this.flags.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
        if (target) target.focus();
      } catch (err) {
        this.error.textContent = "Je oordeel is niet opgeslagen; probeer het opnieuw.";
      }
    }

    render(state, fresh) {
      fresh = fresh || new Set();
      const focused = document.activeElement && document.activeElement.dataset
        ? document.activeElement.dataset.focusKey : null;
      const prio = PRIORITY[state.priority];
      this.priority.dataset.priority = prio ? state.priority : "none";
      this.badge.querySelector(".badge-icon").textContent = prio ? prio.icon : "○";
      this.badge.querySelector(".badge-text").textContent = prio ? `Prioriteit: ${prio.text}` : "Nog geen bericht";
      this.reason.textContent = prio ? reasonText(state) : "";
      // the service's verdicts (state.verdicts: label -> verdict) win; this tab's memory otherwise
      const verdicts = state.verdicts || this.verdicts();
      const flags = state.flags || [];
      const now = Date.now();
      this.flags.replaceChildren(...flags.map((f) => this.flagItem(f, verdicts[f.label], (this.newUntil.get(f.label) || 0) > now)));
      this.empty.hidden = flags.length > 0;
      if (focused) {
        const again = this.root.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`);
        if (again) again.focus();
      }
      for (const label of fresh) {
        clearTimeout(this.newTimers.get(label));
        this.newTimers.set(label, setTimeout(() => {
          const item = this.flags.querySelector(`li[data-label="${CSS.escape(label)}"]`);
          if (item) item.classList.remove("is-new");
        }, NEW_MS));
      }
      this.root.dispatchEvent(new CustomEvent("signaal:state", { detail: state }));
    }

    flagItem(flag, verdict, isNew) {
      const b = band(Number(flag.score));
      const name = flag.name || flag.label;
      const bars = el("span", { class: "bars", "aria-hidden": "true" },
        [1, 2, 3].map((i) => el("span", { class: i <= BARS[b] ? "bar on" : "bar" })));
      const score = el("span", { class: `band band-${b}`, title: `score ${number(flag.score)}` },
        bars, ` ${b}`, el("span", { class: "visually-hidden" }, ` (score ${number(flag.score)})`));
      const evidence = distinct(flag.evidence || []).map((e) => {
        const quote = el("q", { class: "snippet" }, e.text || "");
        const where = Number.isInteger(e.message) ? `bericht ${e.message + 1}` : "";
        if (this.options.showEvidence && Number.isInteger(e.message)) {
          return el("li", {},
            el("button", { type: "button", class: "link", "data-focus-key": `${flag.label}:ev:${e.message}:${e.start}`,
              title: "Toon in het gesprek", onclick: () => this.options.showEvidence(e, flag) },
              quote, el("span", { class: "where" }, ` — ${where}`)));
        }
        return el("li", {}, quote, where ? el("span", { class: "where" }, ` — ${where}`) : null);
      });
      const actions = verdict && VERDICT[verdict]
        ? el("div", { class: "flag-actions" },
          el("p", { class: `verdict verdict-${verdict}` },
            el("span", { "aria-hidden": "true" }, `${VERDICT[verdict].icon} `), VERDICT[verdict].text),
          el("button", { type: "button", class: "secondary", "data-focus-key": `${flag.label}:undo`,
            "aria-label": `Ongedaan maken: ${name}`, onclick: () => this.feedback(flag.label, "undo") },
            "Ongedaan maken"))
        : el("div", { class: "flag-actions", role: "group", "aria-label": `Jouw oordeel over ${name}` },
          el("button", { type: "button", class: "confirm", "data-focus-key": `${flag.label}:confirm`,
            "aria-label": `Klopt: ${name}`, onclick: () => this.feedback(flag.label, "confirm") },
            el("span", { "aria-hidden": "true" }, "✓ "), "Klopt"),
          el("button", { type: "button", class: "reject", "data-focus-key": `${flag.label}:reject`,
            "aria-label": `Klopt niet: ${name}`, onclick: () => this.feedback(flag.label, "reject") },
            el("span", { "aria-hidden": "true" }, "✕ "), "Klopt niet"));
      return el("li", { class: `flag${isNew ? " is-new" : ""}`, "data-label": flag.label,
        "data-verdict": verdict || "", "data-band": b },
        el("div", { class: "flag-head" }, el("h3", { class: "flag-name" }, name), score),
        el("p", { class: "flag-source" }, `door ${SOURCE[flag.raised_by] || flag.raised_by || "regels"}`,
          isNew ? el("span", { class: "new-tag" }, " · nieuw") : null),
        evidence.length ? el("ul", { class: "evidence", "aria-label": `Woorden die dit signaal gaven (${name})` }, evidence) : null,
        actions);
    }
  }

  window.Signaal = { el, meta, tokenFromPage, api, band, Panel, PRIORITY };
})();
