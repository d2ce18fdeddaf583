// The chat page. It is written against the browser WebSocket API; only the constructor
// differs between the two transports (`?transport=websocket` picks a real WebSocket).
import { LongPoll } from "/longpoll.js";

const params = new URLSearchParams(location.search);
const transport = params.get("transport") === "websocket" ? "websocket" : "longpoll";

function connect() {
  if (transport === "websocket") {
    const url = new URL("/ws", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return new WebSocket(url);
  }
  return new LongPoll("/longpoll");
}

const $ = (id) => document.getElementById(id);
const list = $("messages");
const status = $("status");
const nameInput = $("name");
const textInput = $("text");
const sendButton = $("send");

nameInput.value = params.get("name") ?? sessionStorage.getItem("chat-name")
  ?? `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
nameInput.addEventListener("change", () => sessionStorage.setItem("chat-name", nameInput.value));
$("transport").textContent = `transport: ${transport}`;

// What the page has received, for people and for tests.
const received = [];
window.chat = { transport, received, send, socket: null };

function setStatus(state, text) {
  status.dataset.state = state;
  status.textContent = text;
}

function append(element) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(element);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function notice(text) {
  const item = document.createElement("li");
  item.className = "notice";
  item.textContent = text;
  append(item);
}

function show(message) {
  switch (message.kind) {
    case "chat": {
      const item = document.createElement("li");
      item.className = message.name === nameInput.value ? "message mine" : "message";
      const who = document.createElement("div");
      who.className = "who";
      who.textContent = message.name;
      const bubble = document.createElement("div");
      bubble.className = "bubble";
      bubble.textContent = message.text;
      item.append(who, bubble);
      append(item);
      break;
    }
    case "hello": notice(`${message.name} joined`); break;
    case "leave": notice(`${message.name ?? "someone"} left · ${message.online} online`); break;
    case "presence": setStatus("open", `online · ${message.online} here`); break;
  }
}

const socket = connect();
window.chat.socket = socket;

socket.onopen = () => {
  setStatus("open", "online");
  sendButton.disabled = false;
  socket.send(JSON.stringify({ kind: "hello", name: nameInput.value }));
};

socket.onmessage = (event) => {
  if (typeof event.data !== "string") return;
  let message;
  try { message = JSON.parse(event.data); } catch { return; }
  received.push(message);
  show(message);
};

socket.onclose = (event) => {
  sendButton.disabled = true;
  const why = event.reason ? `${event.code} ${event.reason}` : `${event.code}`;
  setStatus("closed", `disconnected (${why}) · reload to rejoin`);
};

socket.onerror = () => setStatus("closed", "connection problem");

function send(text) {
  if (socket.readyState !== socket.OPEN) return false;
  socket.send(JSON.stringify({ kind: "chat", name: nameInput.value, text }));
  return true;
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = textInput.value.trim();
  if (text && send(text)) textInput.value = "";
  textInput.focus();
});
