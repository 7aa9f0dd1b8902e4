// The web inbox: a list and the selected message, on the JSON API; live by Server-Sent Events.
// Every value from a message is untrusted: it is set as text (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { query: "", selected: null, tab: "text", messages: [] };

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(method, path, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function when(iso) {
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

async function refreshList() {
  const query = state.query;
  const data = await api("GET", "/api/messages?q=" + encodeURIComponent(query));
  if (query !== state.query) return; // a newer search is on its way
  state.messages = data.messages;
  $("count").textContent = String(data.total);
  const list = $("messages");
  list.replaceChildren(...data.messages.map(listItem));
  $("empty").hidden = data.messages.length > 0;
  $("empty").textContent = data.total ? "No message matches the search." : "No messages yet.";
  if (state.selected && !data.messages.some((m) => m.id === state.selected)) {
    if (!data.total || !(await exists(state.selected))) select(null);
  }
}

async function exists(id) {
  const response = await fetch("/api/messages/" + encodeURIComponent(id));
  return response.ok;
}

function listItem(message) {
  const item = element("li");
  item.dataset.id = message.id;
  item.classList.toggle("selected", message.id === state.selected);
  const head = element("div", "from", message.from || message.sender || "<>");
  head.prepend(element("span", "when", when(message.received_at)));
  const subject = element("div", "subject", message.subject || "(no subject)");
  if (message.attachments) subject.classList.add("clip");
  item.append(head, subject, element("div", "to", "To: " + (message.to || message.recipients.join(", "))));
  item.addEventListener("click", () => select(message.id));
  return item;
}

async function select(id) {
  state.selected = id;
  for (const item of $("messages").children) item.classList.toggle("selected", item.dataset.id === id);
  $("view").hidden = id === null;
  $("placeholder").hidden = id !== null;
  history.replaceState(null, "", id === null ? "/" : "/messages/" + encodeURIComponent(id));
  if (id === null) return;
  let message;
  try {
    message = await api("GET", "/api/messages/" + encodeURIComponent(id));
  } catch (error) {
    select(null);
    return;
  }
  if (state.selected !== id) return;
  show(message);
}

function show(message) {
  $("subject").textContent = message.subject || "(no subject)";
  document.title = (message.subject || "(no subject)") + " - devserver";
  const rows = [
    ["From", message.from], ["To", message.to], ["Cc", message.cc],
    ["Date", when(message.received_at)],
    ["Envelope", (message.sender || "<>") + " → " + message.recipients.join(", ")],
    ["Size", message.size + " bytes" + (message.tls ? ", over TLS" : "")],
  ];
  $("summary").replaceChildren(...rows.filter(([, value]) => value).flatMap(
    ([name, value]) => [element("dt", "", name), element("dd", "", value)]));
  $("text").textContent = message.text ?? "(no text part)";
  // the body comes from its own URL, whose policy runs no script and loads nothing remote
  $("html").src = message.html_url || "about:blank";
  $("headers").replaceChildren(...message.headers.map(([name, value]) => {
    const row = element("tr");
    row.append(element("th", "", name), element("td", "", value));
    return row;
  }));
  $("raw").textContent = "loading…";
  fetch(message.raw_url).then((r) => r.text()).then((text) => { $("raw").textContent = text; });
  $("attachment-count").textContent = message.attachments.length ? `(${message.attachments.length})` : "";
  $("attachments").replaceChildren(...message.attachments.map((part) => {
    const item = element("li");
    const link = element("a", "", part.filename);
    link.href = part.url;
    link.download = part.filename;
    item.append(link, document.createTextNode(` (${part.content_type}, ${part.size} bytes)`));
    return item;
  }));
  if (!message.attachments.length) $("attachments").append(element("li", "empty", "No attachments."));
  const available = { text: message.text !== null, html: message.html !== null };
  for (const button of document.querySelectorAll(".tabs button")) {
    button.disabled = available[button.dataset.tab] === false;
  }
  let tab = state.tab;
  if (available[tab] === false) tab = available.text ? "text" : available.html ? "html" : "headers";
  showTab(tab, false);
  $("release-result").textContent = "";
}

function showTab(tab, remember = true) {
  if (remember) state.tab = tab;
  for (const button of document.querySelectorAll(".tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  for (const panel of document.querySelectorAll(".tab")) {
    panel.classList.toggle("active", panel.id === "tab-" + tab);
  }
}

async function deleteSelected() {
  if (state.selected === null) return;
  const index = state.messages.findIndex((m) => m.id === state.selected);
  await api("DELETE", "/api/messages/" + encodeURIComponent(state.selected));
  const next = state.messages[index + 1] || state.messages[index - 1];
  select(next ? next.id : null);
}

async function release(event) {
  event.preventDefault();
  const output = $("release-result");
  const to = $("release-to").value.split(/[,\s]+/).filter(Boolean);
  output.textContent = "sending…";
  try {
    const result = await api("POST", `/api/messages/${encodeURIComponent(state.selected)}/release`,
      { url: $("release-url").value, to });
    const refused = Object.entries(result.refused).map(([a, r]) => `${a}: ${r}`).join("; ");
    output.textContent = `Released: ${result.state}` + (result.reply ? ` (${result.reply})` : "")
      + (refused ? `; refused ${refused}` : "");
  } catch (error) {
    output.textContent = "Not released: " + error.message;
  }
}

function listen() {
  const events = new EventSource("/api/events");
  events.addEventListener("open", () => { $("live").textContent = "live"; $("live").classList.add("on"); });
  events.addEventListener("error", () => { $("live").textContent = "reconnecting…"; $("live").classList.remove("on"); });
  events.addEventListener("created", refreshList);
  events.addEventListener("deleted", refreshList);
}

document.addEventListener("DOMContentLoaded", () => {
  let timer;
  $("search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => { state.query = $("search").value.trim(); refreshList(); }, 150);
  });
  for (const button of document.querySelectorAll(".tabs button")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  $("delete").addEventListener("click", deleteSelected);
  $("delete-all").addEventListener("click", () => api("DELETE", "/api/messages").then(() => select(null)));
  $("release-toggle").addEventListener("click", () => { $("release").hidden = !$("release").hidden; });
  $("release").addEventListener("submit", release);
  const deepLink = location.pathname.match(/^\/messages\/([^/]+)$/);
  refreshList().then(() => select(deepLink ? decodeURIComponent(deepLink[1]) : null));
  listen();
});
