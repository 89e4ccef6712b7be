// "Who is watching?": choose a profile (its PIN asked when it has one), add, edit and remove
// profiles, and the topbar's "who am I" with "Switch profile". Without --auth-users only;
// with it the signed-in user is the profile and the topbar just says who that is.
//
// The PIN keeps children out of a parent's history; it is not security (README, *Profiles*).
// Wrong PINs are slowed down by the server: the dialog shows the wait it asks for (429).
import { el } from "./common.js";
import { api, chosen, session, setState, updated } from "./me.js";

const $ = (id) => document.getElementById(id);
// the server's palette (core/profiles/rules.py), with names for screen readers
const PALETTE = [["#e5484d", "Red"], ["#0090ff", "Blue"], ["#46a758", "Green"], ["#f76b15", "Orange"],
                 ["#8e4ec6", "Purple"], ["#12a594", "Teal"], ["#d6409f", "Pink"], ["#ffc53d", "Yellow"]];
const PIN_HINT = "4 to 8 digits. Keeps children out of this history; it is not a lock.";

let profiles = [];
let managing = false;
let onDone = () => {};

const light = (hex) => {
  const n = parseInt(hex.slice(1), 16);
  return 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255) > 150;
};

export function avatar(profile) {
  const a = el("span", { class: light(profile.colour) ? "avatar light" : "avatar", "aria-hidden": "true",
                         text: [...profile.name.trim()][0]?.toUpperCase() || "?" });
  a.style.setProperty("--avatar", profile.colour);  // CSSOM: allowed by the CSP
  return a;
}

const say = (text) => { $("chooser-status").textContent = text; };
const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");

// what a refused answer means, for a dialog: a message, and how long to wait
function failure({ status, body }) {
  if (status === 429) return { error: "Too many wrong PINs.", wait: body.retry_after || 30 };
  if (status === 403 && body.pin_required) return { error: "Wrong PIN.", wait: body.retry_after || 0 };
  if (status === 404) return { error: "This profile no longer exists (it was removed elsewhere)." };
  return { error: body.error ? sentence(body.error) : `That did not work (HTTP ${status}).` };
}

function formDialog({ title, intro, fields, submit, danger, action }) {
  const error = el("p", { class: "form-error", role: "alert" });
  const go = el("button", { type: "submit", class: danger ? "danger" : null, text: submit });
  const cancel = el("button", { type: "button", class: "secondary", text: "Cancel" });
  const form = el("form", { class: "dialog-form" },
    el("h2", { id: "dialog-title", text: title }), intro ? el("p", { text: intro }) : null,
    ...fields, error, el("p", { class: "dialog-actions" }, cancel, go));
  const dialog = el("dialog", { class: "dialog", "aria-labelledby": "dialog-title" }, form);
  let clock = 0;
  const wait = (seconds, message) => {
    let left = Math.ceil(seconds);
    go.disabled = true;
    const tick = () => {
      if (left <= 0) {
        clearInterval(clock);
        go.disabled = false;
        error.textContent = `${message} You can try again now.`;
        return;
      }
      error.textContent = `${message} Try again in ${left} s.`;
      left--;
    };
    clearInterval(clock);
    tick();
    clock = setInterval(tick, 1000);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (go.disabled) return;
    go.disabled = true;
    error.textContent = "";
    const result = await action(new FormData(form));
    go.disabled = false;
    if (!result) { dialog.close(); return; }
    if (result.wait) wait(result.wait, result.error);
    else error.textContent = result.error;
    const pin = form.querySelector("input[type=password]");
    if (pin) { pin.value = ""; pin.focus(); }
  });
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { clearInterval(clock); dialog.remove(); focusPending(); });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

const field = (label, input, hint) =>
  el("label", { class: "field" }, el("span", { text: label }), input, hint ? el("small", { class: "hint", text: hint }) : null);
const nameInput = (value) => el("input", { name: "name", value, required: true, maxLength: 32, autocomplete: "off" });
const pinInput = (name, required) => el("input", { name, type: "password", inputMode: "numeric", autocomplete: "off",
                                                    pattern: "[0-9]{4,8}", maxLength: 8, required, title: "4 to 8 digits" });

function colourField(current) {
  const choices = PALETTE.some(([hex]) => hex === current.toLowerCase()) ? PALETTE : [...PALETTE, [current, "Current colour"]];
  return el("fieldset", { class: "colours" }, el("legend", { text: "Colour" }),
    ...choices.map(([hex, name]) => {
      const swatch = el("label", { class: "swatch", title: name },
        el("input", { type: "radio", name: "colour", value: hex, checked: hex.toLowerCase() === current.toLowerCase() }),
        el("span", { class: "sr-only", text: name }));
      swatch.style.setProperty("--swatch", hex);
      return swatch;
    }));
}

// The list is drawn again after a change; the focus goes to the profile just added or
// edited (or the first), once the dialog that changed it has closed.
let pendingFocus = null;
function focusPending() {
  if (pendingFocus && !$("chooser").hidden) $("profile-list").querySelector(pendingFocus)?.focus();
  pendingFocus = null;
}

async function relist(focusId) {
  const answer = await api.profiles();
  if (!answer.ok) { say(`The profiles could not be loaded (${answer.body.error || `HTTP ${answer.status}`}).`); return false; }
  profiles = answer.body.profiles;
  render();
  pendingFocus = focusId ? `button[data-pid="${focusId}"]` : "button";
  if (!document.querySelector("dialog[open]")) focusPending();
  return true;
}

async function select(profile, pin) {
  const answer = await api.select(profile.id, pin);
  if (!answer.ok) return failure(answer);
  const loading = chosen(answer.body);  // the session changes at once, the marks follow
  close();
  await loading;
  return null;
}

async function pick(profile) {
  if (profile.has_pin) {
    formDialog({ title: `${profile.name}'s PIN`, fields: [field("PIN", pinInput("pin", true))], submit: "Continue",
                 action: (data) => select(profile, data.get("pin")) });
    return;
  }
  const refused = await select(profile, null);
  if (refused) { say(refused.error); relist(); }
}

function addProfile() {
  const used = new Set(profiles.map((p) => p.colour.toLowerCase()));
  const colour = (PALETTE.find(([hex]) => !used.has(hex)) || PALETTE[0])[0];
  formDialog({
    title: "Add a profile", submit: "Add",
    fields: [field("Name", nameInput("")), colourField(colour), field("PIN (optional)", pinInput("pin", false), PIN_HINT)],
    action: async (data) => {
      const body = { name: data.get("name").trim(), colour: data.get("colour") };
      if (data.get("pin")) body.pin = data.get("pin");
      const answer = await api.create(body);
      if (!answer.ok) return failure(answer);
      await relist(answer.body.profile.id);
      return null;
    },
  });
}

function editProfile(profile) {
  const fields = [field("Name", nameInput(profile.name)), colourField(profile.colour)];
  if (profile.has_pin) {
    fields.push(field("Current PIN", pinInput("current_pin", true)),
                el("label", { class: "check" }, el("input", { type: "checkbox", name: "drop_pin" }), " Remove the PIN"),
                field("New PIN (optional)", pinInput("pin", false), PIN_HINT));
  } else {
    fields.push(field("PIN (optional)", pinInput("pin", false), PIN_HINT));
  }
  formDialog({
    title: `Edit ${profile.name}`, submit: "Save", fields,
    action: async (data) => {
      const body = {};
      const name = data.get("name").trim();
      if (name !== profile.name) body.name = name;
      if (data.get("colour") !== profile.colour) body.colour = data.get("colour");
      if (data.get("drop_pin")) body.pin = null;
      else if (data.get("pin")) body.pin = data.get("pin");
      if (!Object.keys(body).length) return null;
      if (profile.has_pin) body.current_pin = data.get("current_pin");
      const answer = await api.update(profile.id, body);
      if (!answer.ok) return failure(answer);
      if (session.profile && session.profile.id === profile.id) updated(answer.body.profile);
      await relist(profile.id);
      return null;
    },
  });
}

function removeProfile(profile) {
  formDialog({
    title: `Remove ${profile.name}?`, submit: "Remove", danger: true,
    intro: "Their resume positions, watched marks and preferences are deleted with the profile.",
    fields: profile.has_pin ? [field("PIN", pinInput("pin", true))] : [],
    action: async (data) => {
      const answer = await api.remove(profile.id, data.get("pin"));
      if (!answer.ok && answer.status !== 404) return failure(answer);
      if (session.profile && session.profile.id === profile.id) setState("choose");
      await relist();
      return null;
    },
  });
}

const tool = (text, profile, action) =>
  el("button", { type: "button", class: "secondary", text, "aria-label": `${text} ${profile.name}`,
                 onclick: () => action(profile) });

function render() {
  const items = profiles.map((p) => {
    const choose = el("button", { type: "button", class: "profile", "data-pid": p.id },
      avatar(p), el("span", { class: "name", text: p.name }),
      p.has_pin ? el("span", { class: "pin-note", text: "PIN" }) : null);
    choose.addEventListener("click", () => (managing ? editProfile(p) : pick(p)));
    const tools = el("span", { class: "tools", hidden: !managing },
      tool("Edit", p, editProfile), tool("Remove", p, removeProfile));
    return el("li", {}, choose, tools);
  });
  const add = el("button", { type: "button", class: "profile add" },
                 el("span", { class: "avatar plus", "aria-hidden": "true", text: "+" }),
                 el("span", { class: "name", text: "Add a profile" }));
  add.addEventListener("click", addProfile);
  $("profile-list").replaceChildren(...items, el("li", {}, add));
  $("manage").hidden = !profiles.length;
  $("manage").setAttribute("aria-pressed", String(managing));
  $("manage").textContent = managing ? "Done" : "Manage profiles";
}

function close() {
  $("chooser").hidden = true;
  managing = false;
  onDone();
}

// Show the chooser. auto: only when there are profiles to choose from (none yet: the library
// without a profile, and "Choose a profile" in the topbar). Returns whether it is shown.
export async function openChooser({ auto = false } = {}) {
  const answer = await api.profiles();
  if (!answer.ok) {
    setState("unavailable", answer.body.error || `HTTP ${answer.status}`);
    return false;
  }
  profiles = answer.body.profiles;
  if (auto && !profiles.length) { setState("none"); return false; }
  managing = false;
  render();
  say("");
  $("chooser").hidden = false;
  onDone();
  $("profile-list").querySelector("button")?.focus();
  return true;
}

export function initChooser({ done }) {
  onDone = done;
  $("manage").addEventListener("click", () => { managing = !managing; render(); });
  $("guest").addEventListener("click", () => { setState("guest"); close(); });
}

// the topbar: who is watching, and the way to someone else
export function renderWhoami() {
  const box = $("whoami");
  const { state, mode, profile } = session;
  const parts = [];
  if (state === "chosen" && mode === "users") {
    parts.push(avatar(profile), el("span", { class: "name", text: `Signed in as ${profile.name}` }));
  } else if (state === "chosen") {
    const change = el("button", { type: "button", class: "secondary", id: "switch", text: "Switch profile" });
    change.addEventListener("click", async () => { await api.leave(); setState("choose"); });
    parts.push(avatar(profile), el("span", { class: "name", text: profile.name }), change);
  } else if (state === "nobody") {
    parts.push(el("span", { class: "name", text: "Signed in with the token: no profile" }));
  } else if (state === "none" || state === "guest") {
    const open = el("button", { type: "button", class: "secondary", id: "choose",
                                text: state === "none" ? "Add a profile" : "Choose a profile" });
    open.addEventListener("click", () => openChooser());
    parts.push(open);
  }
  box.replaceChildren(...parts);
  box.hidden = !parts.length;
}
