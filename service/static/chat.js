/* The demo chat of /console: type as client or counselor, or replay a sample conversation.
 * The typed text stays in this browser tab (sessionStorage, so a reload keeps it); the
 * service gets each message and keeps only redacted flags. */
"use strict";

// Synthetic and non-graphic: phrased the way victims disclose, never describing acts.
const SAMPLE = [
  ["client", "hoi, ik weet niet goed hoe ik dit moet zeggen"],
  ["counselor", "Fijn dat je ons schrijft. Neem rustig je tijd. Wil je vertellen wat er aan de hand is?"],
  ["client", "ik ben 15 en mijn stiefvader regelt mannen voor mij"],
  ["counselor", "Dank je dat je dit vertelt, dat is heel moedig. Gebeurt het nu nog steeds?"],
  ["client", "ja elke week nog. hij houdt het geld"],
  ["counselor", "Weet iemand anders hiervan?"],
  ["client", "nee ik heb het nog nooit aan iemand verteld"],
  ["client", "ik durf het niet te vertellen, hij zegt dat hij me dan slaat"],
];
const REPLAY_DELAY_MS = 1400;
const ROLE_NAME = { client: "Cliënt", counselor: "Hulpverlener" };

document.addEventListener("DOMContentLoaded", () => {
  const S = window.Signaal;
  const el = S.el;
  const $ = (id) => document.getElementById(id);
  const list = $("messages");
  const form = $("composer");
  const input = $("text");
  const error = $("chat-error");
  const replay = $("replay");
  const platformToken = S.tokenFromPage("platform");
  let chat = load() || fresh();
  let playing = null;

  function fresh() {
    const id = "demo-" + Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
    return { conversation: id, messages: [] };
  }
  function load() {
    try { return JSON.parse(sessionStorage.getItem("signaal:demo")); } catch (e) { return null; }
  }
  function save() { sessionStorage.setItem("signaal:demo", JSON.stringify(chat)); }

  const panel = new S.Panel($("panel"), {
    conversation: chat.conversation,
    token: S.tokenFromPage("counselor"),
    showEvidence: (evidence) => {
      const item = list.querySelector(`li[data-index="${evidence.message}"]`);
      if (!item) return;
      item.scrollIntoView({ block: "nearest" });
      item.focus();
    },
  });
  $("panel").addEventListener("signaal:state", (event) => renderMessages(event.detail));

  /** Evidence ranges per message index: [{start, end, names}] merged where they overlap. */
  function ranges(state) {
    const byMessage = new Map();
    for (const flag of (state && state.flags) || []) {
      for (const e of flag.evidence || []) {
        if (!Number.isInteger(e.message) || !(e.end > e.start)) continue;
        if (!byMessage.has(e.message)) byMessage.set(e.message, []);
        byMessage.get(e.message).push({ start: e.start, end: e.end, names: [flag.name || flag.label] });
      }
    }
    for (const [key, list] of byMessage) {
      list.sort((a, b) => a.start - b.start);
      const merged = [];
      for (const r of list) {
        const last = merged[merged.length - 1];
        if (last && r.start < last.end) {
          last.end = Math.max(last.end, r.end);
          for (const n of r.names) if (!last.names.includes(n)) last.names.push(n);
        } else merged.push({ ...r, names: [...r.names] });
      }
      byMessage.set(key, merged);
    }
    return byMessage;
  }

  /** The message text with its flagged [start, end) ranges as <mark>, all as text nodes. */
  function messageText(text, marks) {
    const nodes = [];
    let at = 0;
    for (const r of marks || []) {
      const start = Math.max(r.start, at), end = Math.min(r.end, text.length);
      if (start >= end) continue;
      nodes.push(text.slice(at, start));
      const names = r.names.join(", ");
      nodes.push(el("mark", { title: names }, text.slice(start, end),
        el("span", { class: "visually-hidden" }, ` (signaal: ${names})`)));
      at = end;
    }
    nodes.push(text.slice(at));
    return nodes;
  }

  function renderMessages(state) {
    const marks = ranges(state || panel.state);
    list.replaceChildren(...chat.messages.map((m, i) => {
      const index = Number.isInteger(m.index) ? m.index : i;
      return el("li", { class: `msg msg-${m.role}`, "data-index": index, tabindex: "-1" },
        el("span", { class: "msg-role" }, ROLE_NAME[m.role] || m.role),
        el("p", { class: "msg-text" }, messageText(m.text, marks.get(index))));
    }));
    if (!chat.messages.length) {
      list.append(el("li", { class: "msg-empty" },
        "Typ een bericht als cliënt, of speel het voorbeeldgesprek af."));
    }
    list.scrollTop = list.scrollHeight;
  }

  async function send(role, text) {
    text = text.trim();
    if (!text) return false;
    try {
      const reply = await S.api("POST", `/v1/conversations/${encodeURIComponent(chat.conversation)}/messages`,
        platformToken, { role, text });
      chat.messages.push({ role, text, index: reply.message_index });
      save();
      error.textContent = "";
      panel.update(reply);
      return true;
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 403
        ? "Niet verstuurd: geen toegang (token)."
        : err.status === 413 || err.status === 422 ? "Niet verstuurd: het bericht is te lang."
          : "Niet verstuurd: geen verbinding met Signaal. Probeer het opnieuw.";
      return false;
    }
  }

  function role() {
    return form.querySelector('input[name="role"]:checked').value;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await send(role(), input.value)) input.value = "";
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  function newConversation() {
    stopReplay();
    const old = chat.conversation;
    // end the old demo conversation: the service forgets its flag state now
    if (chat.messages.length) S.api("DELETE", `/v1/conversations/${encodeURIComponent(old)}`, platformToken).catch(() => {});
    chat = fresh();
    save();
    sessionStorage.removeItem(`signaal:verdicts:${old}`);
    panel.setConversation(chat.conversation);
    renderMessages(null);
  }

  function stopReplay() {
    if (!playing) return;
    playing.stopped = true;
    playing = null;
    replay.textContent = "Voorbeeldgesprek afspelen";
  }

  async function startReplay() {
    newConversation();
    const run = { stopped: false };
    playing = run;
    replay.textContent = "Afspelen stoppen";
    for (const [who, text] of SAMPLE) {
      if (run.stopped) return;
      if (!(await send(who, text))) break;
      await new Promise((resolve) => setTimeout(resolve, REPLAY_DELAY_MS));
    }
    if (playing === run) stopReplay();
  }

  replay.addEventListener("click", () => (playing ? stopReplay() : startReplay()));
  $("new-chat").addEventListener("click", () => { newConversation(); input.focus(); });

  renderMessages(null);
  panel.start();
});
