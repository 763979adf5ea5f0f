// Keyboard-first review page. Talks to the JSON API under data-api-root.
//
// Item content is hostile: everything from the API goes into the page through textContent,
// except a policy's guidelines_html, which the server has already sanitized.
"use strict";

(() => {
  const root = document.getElementById("review");
  if (!root) {
    return;
  }

  // Set once per page load; a browser test reads it to prove the next item came without a reload.
  window.reviewtool = Object.freeze({ pageLoadId: uuid4() });

  const apiRoot = root.dataset.apiRoot || "/api/v1/";
  const queueSlug = root.dataset.queue;
  const blindPage = root.dataset.blind === "true";
  const retryDelaysMs = [500, 1000, 2000, 4000];

  const el = {
    status: document.getElementById("status"),
    loading: document.getElementById("loading"),
    empty: document.getElementById("empty"),
    checkAgain: document.getElementById("check-again"),
    item: document.getElementById("item"),
    source: document.getElementById("item-source"),
    externalId: document.getElementById("item-external-id"),
    received: document.getElementById("item-received"),
    languageWrap: document.getElementById("item-language-wrap"),
    language: document.getElementById("item-language"),
    itemStatus: document.getElementById("item-status"),
    text: document.getElementById("item-text"),
    metadataWrap: document.getElementById("item-metadata-wrap"),
    metadata: document.getElementById("item-metadata"),
    media: document.getElementById("item-media"),
    mediaList: document.getElementById("item-media-list"),
    revealDefault: document.getElementById("reveal-media-default"),
    form: document.getElementById("decision-form"),
    groups: document.getElementById("policy-groups"),
    note: document.getElementById("note"),
    submit: document.getElementById("submit"),
    skip: document.getElementById("skip"),
    escalate: document.getElementById("escalate"),
    guidelines: document.getElementById("guidelines"),
    recent: document.getElementById("recent"),
    recentEmpty: document.getElementById("recent-empty"),
    shortcuts: document.getElementById("shortcuts"),
  };

  const state = {
    current: null, // {lease, item, queue, policies, suggestion, idempotencyKey, shownAt, suggestionShown}
    ahead: [], // leases already held (prefetched, or pushed back by an undo), in show order
    pulling: null, // the one next-item request in flight, if any
    busy: false,
    groupIndex: 0,
    policySignature: "",
    recent: [],
    itemNames: new Map(), // item id -> "source:external_id", for the recent panel
    leaseExpiry: new Map(), // decision id -> lease expiry (ms) for decisions made on this page
    revealMediaByDefault: false, // the reviewer's own preference (me/preferences/)
  };

  // --- helpers -------------------------------------------------------------------------------

  function uuid4() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  function csrfToken() {
    for (const part of document.cookie.split(";")) {
      const [name, ...rest] = part.trim().split("=");
      if (name === "csrftoken") {
        return decodeURIComponent(rest.join("="));
      }
    }
    return "";
  }

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  class HttpError extends Error {
    constructor(status, data) {
      super((data && data.message) || `The server answered ${status}.`);
      this.status = status;
      this.data = data;
    }
  }

  async function api(method, path, body) {
    const init = {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(apiRoot + path, init);
    let data = null;
    if (response.status !== 204) {
      const text = await response.text();
      if (text) {
        try {
          data = JSON.parse(text);
        } catch {
          data = null;
        }
      }
    }
    return { status: response.status, ok: response.ok, data };
  }

  // Retries network failures and gateway errors. The caller keeps the body (and so the
  // idempotency key) the same across attempts, so a retried submit never records twice.
  async function apiWithRetry(method, path, body) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const response = await api(method, path, body);
        if (![502, 503, 504].includes(response.status) || attempt >= retryDelaysMs.length) {
          return response;
        }
      } catch (error) {
        if (attempt >= retryDelaysMs.length) {
          throw error;
        }
      }
      announce(`Connection trouble; retrying (${attempt + 1}/${retryDelaysMs.length})…`, "warn");
      await sleep(retryDelaysMs[attempt]);
    }
  }

  function announce(message, kind = "info") {
    el.status.textContent = message;
    el.status.dataset.kind = kind;
  }

  function messageOf(response, fallback) {
    return (response.data && response.data.message) || fallback;
  }

  function heldTokens() {
    const tokens = state.ahead.map((entry) => entry.lease.token);
    if (state.current) {
      tokens.push(state.current.lease.token);
    }
    return tokens;
  }

  function itemName(item) {
    return `${item.source}:${item.external_id}`;
  }

  // --- fetching the next item ----------------------------------------------------------------

  async function requestNext() {
    const response = await api("POST", `queues/${encodeURIComponent(queueSlug)}/next/`, {
      exclude: heldTokens(),
    });
    if (response.status === 204) {
      return null;
    }
    if (response.status === 409) {
      // Already holding the most leases allowed (another tab, say); what we hold is enough to
      // go on with, but with nothing in hand the reviewer must know why nothing shows.
      if (!state.current && state.ahead.length === 0) {
        announce(messageOf(response, "You hold too many items in this queue."), "warn");
      }
      return null;
    }
    if (!response.ok || !response.data || !response.data.lease) {
      throw new HttpError(response.status, response.data);
    }
    return response.data;
  }

  // Only one next-item request is ever in flight: the server returns a lease we already hold
  // unless it is excluded, so two concurrent requests could hand us the same item twice.
  function pullNext() {
    if (!state.pulling) {
      state.pulling = (async () => {
        try {
          const entry = await requestNext();
          if (entry && !heldTokens().includes(entry.lease.token)) {
            state.ahead.push(entry);
          }
          return entry;
        } finally {
          state.pulling = null;
        }
      })();
    }
    return state.pulling;
  }

  function prefetch() {
    if (state.current && state.ahead.length === 0 && !state.pulling) {
      pullNext().catch(() => {
        // A failed prefetch is retried when the item is needed.
      });
    }
  }

  function isExpired(entry) {
    const expires = Date.parse(entry.lease.expires_at);
    return Number.isFinite(expires) && expires <= Date.now();
  }

  async function advance() {
    state.current = null;
    try {
      // The first pull may only wait for a prefetch that was started before; the second asks
      // afresh now that the submitted item no longer counts against us.
      for (let tries = 0; tries < 2 && state.ahead.length === 0; tries += 1) {
        await pullNext();
      }
    } catch (error) {
      showError(`Could not load the next item: ${error.message}`);
      return;
    }
    let next = state.ahead.shift();
    while (next && isExpired(next)) {
      next = state.ahead.shift();
    }
    if (next) {
      show(next);
      prefetch();
    } else if (state.ahead.length === 0 && !state.pulling) {
      showEmpty();
    }
  }

  // --- rendering -----------------------------------------------------------------------------

  function setVisible(which) {
    el.loading.hidden = which !== "loading";
    el.empty.hidden = which !== "empty";
    el.item.hidden = which !== "item";
    el.form.hidden = which !== "item";
  }

  function showEmpty() {
    setVisible("empty");
    el.checkAgain.focus();
  }

  function showError(message) {
    announce(message, "error");
    if (!state.current) {
      setVisible("empty");
    }
  }

  function show(entry) {
    state.current = entry;
    entry.idempotencyKey = entry.idempotencyKey || uuid4();
    entry.shownAt = performance.now();
    const { item } = entry;
    state.itemNames.set(item.id, itemName(item));

    renderPolicies(entry.policies || []);
    el.source.textContent = item.source;
    el.externalId.textContent = item.external_id;
    el.received.textContent = item.received_at ? new Date(item.received_at).toLocaleString() : "";
    el.received.dateTime = item.received_at || "";
    el.language.textContent = item.language || "";
    el.languageWrap.hidden = !item.language;
    el.itemStatus.textContent = (item.status || "").replace("_", " ");
    el.text.textContent = item.text || "";
    renderMetadata(item.metadata);
    renderMedia(item.media);
    entry.suggestionShown = renderSuggestion(entry);

    el.form.reset();
    setGroup(0);
    setVisible("item");
    el.item.focus({ preventScroll: true });
    window.scrollTo({ top: 0 });
  }

  function renderMetadata(metadata) {
    el.metadata.replaceChildren();
    const entries = metadata && typeof metadata === "object" ? Object.entries(metadata) : [];
    for (const [key, value] of entries) {
      const term = document.createElement("dt");
      term.textContent = key;
      const detail = document.createElement("dd");
      detail.textContent = typeof value === "string" ? value : JSON.stringify(value);
      el.metadata.append(term, detail);
    }
    el.metadataWrap.hidden = entries.length === 0;
  }

  // --- media ---------------------------------------------------------------------------------
  // Media protect the reviewer first: images and video start blurred and in greyscale (CSS
  // class media-shielded), audio and video start muted and load nothing until played, and the
  // OCR text or transcript is shown next to them. Only same-origin /media/<sha256>/ URLs are used.

  const MEDIA_URL = /^\/media\/[0-9a-f]{64}\/$/;

  function renderMedia(media) {
    el.mediaList.replaceChildren();
    const entries = Array.isArray(media) ? media.filter((asset) => MEDIA_URL.test(asset.url || "")) : [];
    for (const asset of entries) {
      el.mediaList.append(buildMedia(asset));
    }
    el.media.hidden = entries.length === 0;
  }

  function buildMedia(asset) {
    const figure = document.createElement("figure");
    figure.className = `media-entry media-${asset.kind}`;
    let player = null;
    if (asset.kind === "image") {
      player = document.createElement("img");
      player.alt = "Image of the item (blurred until revealed)";
      player.decoding = "async";
      player.loading = "lazy";
    } else if (asset.kind === "audio" || asset.kind === "video") {
      player = document.createElement(asset.kind);
      player.controls = true;
      player.muted = true;
      player.defaultMuted = true;
      player.preload = "none";
    }
    if (player) {
      player.src = asset.url;
      if (asset.kind === "audio") {
        figure.append(player);
      } else {
        const frame = document.createElement("div");
        frame.className = "media-frame";
        frame.classList.toggle("media-shielded", !state.revealMediaByDefault);
        frame.append(player);
        const toggle = document.createElement("button");
        toggle.type = "button";
        toggle.className = "button media-toggle";
        toggle.textContent = "Reveal / hide";
        toggle.addEventListener("click", () => frame.classList.toggle("media-shielded"));
        if (asset.kind === "image") {
          // Click toggles; pressing and holding shows it only while held.
          frame.addEventListener("click", () => frame.classList.toggle("media-shielded"));
          frame.addEventListener("pointerdown", () => frame.classList.add("media-peek"));
          for (const type of ["pointerup", "pointerleave", "pointercancel"]) {
            frame.addEventListener(type, () => frame.classList.remove("media-peek"));
          }
        }
        figure.append(frame, toggle);
      }
    }
    const caption = document.createElement("figcaption");
    caption.className = "muted small";
    const facts = [asset.kind, asset.mime];
    if (Number.isFinite(asset.duration_seconds)) {
      facts.push(`${asset.duration_seconds.toFixed(1)} s`);
    }
    caption.textContent = facts.join(" · ");
    figure.append(caption);
    const text = (asset.extracted_text || "").trim();
    if (text) {
      const label = document.createElement("p");
      label.className = "media-text-label small";
      label.textContent = asset.kind === "image" ? "Text in the image" : "Transcript";
      const body = document.createElement("p");
      body.className = "media-text";
      body.textContent = text;
      figure.append(label, body);
    }
    return figure;
  }

  function toggleMediaReveal() {
    const frames = Array.from(el.mediaList.querySelectorAll(".media-frame"));
    if (frames.length === 0) {
      return false;
    }
    const reveal = frames.some((frame) => frame.classList.contains("media-shielded"));
    for (const frame of frames) {
      frame.classList.toggle("media-shielded", !reveal);
    }
    announce(reveal ? "Media revealed." : "Media hidden.");
    return true;
  }

  async function loadMediaPreference() {
    const response = await api("GET", "me/preferences/");
    if (response.ok && response.data) {
      state.revealMediaByDefault = response.data.reveal_media_by_default === true;
      el.revealDefault.checked = state.revealMediaByDefault;
    }
  }

  async function saveMediaPreference() {
    const wanted = el.revealDefault.checked;
    const response = await api("PUT", "me/preferences/", { reveal_media_by_default: wanted });
    if (response.ok) {
      state.revealMediaByDefault = wanted;
      announce(wanted ? "Media will show unblurred from the next item." : "Media will start blurred.");
    } else {
      el.revealDefault.checked = state.revealMediaByDefault;
      announce(messageOf(response, "The preference was not saved."), "error");
    }
  }

  function renderSuggestion(entry) {
    const blind = blindPage || (entry.queue && entry.queue.blind);
    const suggestion = blind ? null : entry.suggestion;
    let shown = null;
    for (const group of groups()) {
      const line = group.querySelector(".suggestion");
      const guess = suggestion && suggestion[group.dataset.policy];
      if (guess && guess.label !== undefined) {
        const score = Number(guess.score);
        line.textContent = `Model suggests: ${guess.label}${Number.isFinite(score) ? ` (${score.toFixed(2)})` : ""}`;
        line.hidden = false;
        shown = shown || {};
        shown[group.dataset.policy] = guess;
      } else {
        line.textContent = "";
        line.hidden = true;
      }
    }
    return shown;
  }

  // The server renders the queue's policies; rebuild only if the API says they changed.
  function renderPolicies(policies) {
    const signature = JSON.stringify(policies.map((p) => [p.slug, p.name, p.labels]));
    if (!policies.length || signature === state.policySignature) {
      updateGuidelines(policies);
      return;
    }
    if (state.policySignature || signatureOfPage() !== signature) {
      el.groups.replaceChildren(...policies.map(buildGroup));
    }
    state.policySignature = signature;
    updateGuidelines(policies);
  }

  function signatureOfPage() {
    return JSON.stringify(
      groups().map((group) => [
        group.dataset.policy,
        group.querySelector("legend").textContent,
        Array.from(group.querySelectorAll("input[type=radio]"), (input) => input.value),
      ]),
    );
  }

  function buildGroup(policy) {
    const fieldset = document.createElement("fieldset");
    fieldset.className = "policy-group";
    fieldset.dataset.policy = policy.slug;
    const legend = document.createElement("legend");
    legend.textContent = policy.name;
    const suggestion = document.createElement("p");
    suggestion.className = "suggestion";
    suggestion.hidden = true;
    const verdicts = document.createElement("div");
    verdicts.className = "verdicts";
    policy.labels.forEach((label, index) => {
      const wrapper = document.createElement("label");
      wrapper.className = "verdict";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = `verdict-${policy.slug}`;
      input.value = label;
      const key = document.createElement("kbd");
      key.textContent = String(index + 1);
      const name = document.createElement("span");
      name.className = "verdict-name";
      name.textContent = label;
      wrapper.append(input, " ", key, " ", name);
      verdicts.append(wrapper);
    });
    fieldset.append(legend, suggestion, verdicts);
    return fieldset;
  }

  function updateGuidelines(policies) {
    for (const policy of policies) {
      if (typeof policy.guidelines_html !== "string") {
        continue;
      }
      let block = Array.from(el.guidelines.children).find(
        (child) => child.dataset.policy === policy.slug,
      );
      if (!block) {
        block = document.createElement("details");
        block.className = "policy-guidelines";
        block.dataset.policy = policy.slug;
        block.open = true;
        const summary = document.createElement("summary");
        summary.textContent = policy.name;
        const body = document.createElement("div");
        body.className = "guidelines-body";
        block.append(summary, body);
        el.guidelines.append(block);
      }
      const body = block.querySelector(".guidelines-body");
      if (body.dataset.source !== policy.guidelines_html) {
        // The one place HTML is inserted: the server sanitized it (markdown, then nh3).
        body.innerHTML = policy.guidelines_html;
        body.dataset.source = policy.guidelines_html;
      }
    }
  }

  // --- policy groups and verdicts ------------------------------------------------------------

  function groups() {
    return Array.from(el.groups.querySelectorAll(".policy-group"));
  }

  function setGroup(index) {
    const all = groups();
    if (!all.length) {
      return;
    }
    state.groupIndex = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((group, position) => {
      group.classList.toggle("current", position === state.groupIndex);
    });
  }

  function chooseVerdict(number) {
    const group = groups()[state.groupIndex];
    if (!group) {
      return;
    }
    const inputs = group.querySelectorAll("input[type=radio]");
    const input = inputs[number - 1];
    if (!input) {
      announce(`${group.querySelector("legend").textContent} has only ${inputs.length} verdicts.`, "warn");
      return;
    }
    input.checked = true;
    moveToNextOpenGroup();
  }

  function moveToNextOpenGroup() {
    const all = groups();
    for (let step = 1; step < all.length; step += 1) {
      const position = (state.groupIndex + step) % all.length;
      if (!all[position].querySelector("input:checked")) {
        setGroup(position);
        return;
      }
    }
  }

  function collectVerdicts() {
    const verdicts = {};
    const missing = [];
    groups().forEach((group, position) => {
      const checked = group.querySelector("input:checked");
      if (checked) {
        verdicts[group.dataset.policy] = checked.value;
      } else {
        missing.push(position);
      }
    });
    return { verdicts, missing };
  }

  // --- actions -------------------------------------------------------------------------------

  async function runAction(action) {
    if (state.busy || !state.current) {
      return;
    }
    state.busy = true;
    root.classList.add("busy");
    try {
      await action(state.current);
    } finally {
      state.busy = false;
      root.classList.remove("busy");
    }
  }

  function submitCurrent() {
    const { verdicts, missing } = collectVerdicts();
    if (!state.current) {
      return Promise.resolve();
    }
    if (missing.length) {
      const names = missing.map((i) => groups()[i].querySelector("legend").textContent);
      announce(`Choose a verdict for ${names.join(", ")} first.`, "warn");
      setGroup(missing[0]);
      return Promise.resolve();
    }
    return runAction(async (entry) => {
      const body = {
        lease: entry.lease.token,
        verdicts,
        note: el.note.value,
        time_on_item_ms: Math.round(performance.now() - entry.shownAt),
        idempotency_key: entry.idempotencyKey,
        suggestion_shown: entry.suggestionShown,
      };
      let response;
      try {
        response = await apiWithRetry("POST", "decisions/", body);
      } catch {
        announce("Could not reach the server. Your choice is still here: press Enter to try again.", "error");
        return;
      }
      if (response.status === 200 || response.status === 201) {
        rememberDecision(response.data, entry);
        announce(`Saved ${itemName(entry.item)}.`);
        await advance();
        refreshRecent();
      } else if (response.status === 409 || response.status === 404) {
        announce(messageOf(response, "This item is no longer yours."), "error");
        await advance();
      } else if (response.status === 400) {
        const fields = response.data && response.data.extra && response.data.extra.fields;
        const details = fields ? Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join("; ") : "";
        announce(`${messageOf(response, "Invalid decision.")} ${details}`.trim(), "error");
      } else {
        announce(`${messageOf(response, "The decision was not saved.")} Press Enter to try again.`, "error");
      }
    });
  }

  function skipCurrent() {
    return runAction(async (entry) => {
      const response = await leaseAction(entry, "skip", undefined);
      if (response) {
        announce(
          response.ok ? `Skipped ${itemName(entry.item)}.` : messageOf(response, "Skip failed."),
          response.ok ? "info" : "error",
        );
        await advance();
      }
    });
  }

  function escalateCurrent() {
    return runAction(async (entry) => {
      const response = await leaseAction(entry, "escalate", { note: el.note.value });
      if (response) {
        announce(
          response.ok ? `Escalated ${itemName(entry.item)}.` : messageOf(response, "Escalation failed."),
          response.ok ? "info" : "error",
        );
        await advance();
      }
    });
  }

  async function leaseAction(entry, action, body) {
    try {
      const token = encodeURIComponent(entry.lease.token);
      const response = await apiWithRetry("POST", `leases/${token}/${action}/`, body);
      if (!response.ok && ![404, 409].includes(response.status)) {
        announce(messageOf(response, `The ${action} did not go through.`), "error");
        return null;
      }
      return response;
    } catch {
      announce("Could not reach the server; try again.", "error");
      return null;
    }
  }

  async function undoDecision(decisionId) {
    if (state.busy) {
      return;
    }
    state.busy = true;
    try {
      let response;
      try {
        response = await apiWithRetry("POST", `decisions/${encodeURIComponent(decisionId)}/undo/`);
      } catch {
        announce("Could not reach the server; try again.", "error");
        return;
      }
      if (!response.ok || !response.data || !response.data.lease) {
        announce(messageOf(response, "This decision can no longer be undone."), "error");
        refreshRecent();
        return;
      }
      if (state.current) {
        state.ahead.unshift(state.current);
      }
      state.leaseExpiry.delete(Number(decisionId));
      show(response.data);
      announce(`Undone: ${itemName(response.data.item)} is back for a new decision.`);
      refreshRecent();
    } finally {
      state.busy = false;
    }
  }

  // --- recent decisions ----------------------------------------------------------------------

  function rememberDecision(decision, entry) {
    if (!decision || decision.id === undefined) {
      return;
    }
    const expires = Date.parse(entry.lease.expires_at);
    if (Number.isFinite(expires)) {
      state.leaseExpiry.set(Number(decision.id), expires);
    }
    state.recent = [decision, ...state.recent.filter((d) => d.id !== decision.id)].slice(0, 10);
    renderRecent();
  }

  async function refreshRecent() {
    try {
      const query = new URLSearchParams({ mine: "1", limit: "10", queue: queueSlug });
      const response = await api("GET", `decisions/?${query}`);
      if (response.ok && response.data) {
        const rows = Array.isArray(response.data) ? response.data : response.data.results;
        if (Array.isArray(rows)) {
          state.recent = rows;
          renderRecent();
        }
      }
    } catch {
      // The panel keeps what it had; the next decision refreshes it.
    }
  }

  function decisionItemName(decision) {
    const item = decision.item;
    if (item && typeof item === "object") {
      return itemName(item);
    }
    return state.itemNames.get(item) || `item #${item}`;
  }

  function isUndoable(decision) {
    if (decision.retracted || (decision.kind && decision.kind !== "review")) {
      return false;
    }
    const expires = state.leaseExpiry.get(Number(decision.id));
    if (expires !== undefined) {
      return expires > Date.now();
    }
    return decision.undoable === true;
  }

  function renderRecent() {
    const rows = state.recent.map((decision) => {
      const row = document.createElement("li");
      row.className = "recent-row";
      if (decision.retracted) {
        row.classList.add("retracted");
      }
      const what = document.createElement("span");
      what.className = "recent-item";
      what.textContent = decisionItemName(decision);
      const verdicts = document.createElement("span");
      verdicts.className = "recent-verdicts";
      verdicts.textContent = Object.entries(decision.verdicts || {})
        .map(([policy, label]) => `${policy}: ${label}`)
        .join(", ");
      row.append(what, verdicts);
      if (decision.retracted) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = "undone";
        row.append(badge);
      } else if (isUndoable(decision)) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button button-small undo";
        button.dataset.decision = String(decision.id);
        button.textContent = "Undo";
        button.setAttribute("aria-label", `Undo decision on ${decisionItemName(decision)}`);
        row.append(button);
      }
      return row;
    });
    el.recent.replaceChildren(...rows);
    el.recentEmpty.hidden = rows.length > 0;
  }

  // --- keyboard ------------------------------------------------------------------------------

  function isTextEntry(target) {
    if (!(target instanceof HTMLElement)) {
      return false;
    }
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") {
      return true;
    }
    return target.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(target.type);
  }

  function toggleShortcuts() {
    if (el.shortcuts.open) {
      el.shortcuts.close();
    } else {
      el.shortcuts.showModal();
    }
  }

  function latestUndoable() {
    return state.recent.find((decision) => !decision.retracted && isUndoable(decision));
  }

  function onKeyDown(event) {
    if (event.defaultPrevented || event.isComposing) {
      return;
    }
    if (el.shortcuts.open) {
      if (event.key === "?") {
        event.preventDefault();
        el.shortcuts.close();
      }
      return; // Escape closes the dialog natively.
    }
    const target = event.target;
    if (isTextEntry(target)) {
      if (event.key === "Escape") {
        event.preventDefault();
        target.blur();
        el.item.focus({ preventScroll: true });
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && target === el.note) {
        event.preventDefault();
        submitCurrent();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    const handled = handleShortcut(event.key, target);
    if (handled) {
      event.preventDefault();
    }
  }

  function handleShortcut(key, target) {
    if (key === "?") {
      toggleShortcuts();
      return true;
    }
    if (!state.current) {
      if ((key === "r" || key === "R") && !el.empty.hidden) {
        checkAgain();
        return true;
      }
      return false;
    }
    if (/^[1-9]$/.test(key)) {
      chooseVerdict(Number(key));
      return true;
    }
    switch (key) {
      case "Enter":
        if (target instanceof HTMLElement && target.closest("button, a, summary")) {
          return false; // Let the focused control do its own thing.
        }
        submitCurrent();
        return true;
      case "s":
      case "S":
        skipCurrent();
        return true;
      case "e":
      case "E":
        escalateCurrent();
        return true;
      case "n":
      case "N":
        el.note.focus();
        return true;
      case "u":
      case "U": {
        const decision = latestUndoable();
        if (decision) {
          undoDecision(decision.id);
        } else {
          announce("Nothing to undo.", "warn");
        }
        return true;
      }
      case "v":
      case "V":
        if (!toggleMediaReveal()) {
          announce("This item has no image or video.", "warn");
        }
        return true;
      case "ArrowDown":
      case "ArrowUp":
        if (groups().length < 2 || (target instanceof HTMLInputElement && target.type === "radio")) {
          return false;
        }
        setGroup(state.groupIndex + (key === "ArrowDown" ? 1 : -1));
        return true;
      default:
        return false;
    }
  }

  async function checkAgain() {
    setVisible("loading");
    announce("");
    await advance();
  }

  // --- wiring --------------------------------------------------------------------------------

  document.addEventListener("keydown", onKeyDown);
  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitCurrent();
  });
  el.skip.addEventListener("click", () => skipCurrent());
  el.escalate.addEventListener("click", () => escalateCurrent());
  el.checkAgain.addEventListener("click", () => checkAgain());
  el.groups.addEventListener("focusin", (event) => {
    const group = event.target.closest(".policy-group");
    if (group) {
      setGroup(groups().indexOf(group));
    }
  });
  el.groups.addEventListener("change", (event) => {
    const group = event.target.closest(".policy-group");
    if (group) {
      setGroup(groups().indexOf(group));
    }
  });
  el.recent.addEventListener("click", (event) => {
    const button = event.target.closest("button.undo");
    if (button) {
      undoDecision(button.dataset.decision);
    }
  });
  // Undo buttons disappear when their lease runs out.
  setInterval(renderRecent, 15000);

  el.revealDefault.addEventListener("change", () => saveMediaPreference());

  state.policySignature = "";
  setVisible("loading");
  // The preference decides how the first item's media start; load it before the item.
  loadMediaPreference()
    .catch(() => {})
    .finally(() => advance());
  refreshRecent();
})();
