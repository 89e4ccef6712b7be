// Who is watching, and what they have watched: the profile this browser uses and the state
// the server keeps for it (resume positions, watched marks, the home rows). README,
// "Profiles and resume everywhere".
//
// None of it holds up the library: its cards are painted without waiting for any of this,
// and a store that is unavailable (503), a profile removed on another device or a server
// that went away leave the library working with a message. Across devices: `/api/me`
// (a few hundred bytes) is asked every few seconds while the page is visible, the home rows
// only when the profile's last played row changed, and every mark again when the page is
// shown again (another tab, the player's back button).
import { fetchJSON } from "./common.js";

export const POLL_MS = 5000;
const RETRY_MS = 30000;  // while the store is unavailable: ask again, not every few seconds

// state: "pending" (not known yet), "chosen", "choose" (profiles exist, none chosen), "none"
// (no profile exists yet), "guest" (browsing without one), "nobody" (users mode, signed in
// with the token), "unavailable" (the store or the server failed: message says why)
export const session = {
  state: "pending", mode: "local", profile: null, preferences: null, message: "",
  progress: new Map(),  // video id -> PROGRESS (README, "The profile API")
  home: null,           // the last /api/me/home answer
};

const events = new EventTarget();
// "change": state or profile; "progress": Set of ids whose marks changed; "home": new rows
export const on = (type, fn) => events.addEventListener(type, (e) => fn(e.detail));
const emit = (type, detail) => events.dispatchEvent(new CustomEvent(type, { detail }));

export async function call(method, url, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  try {
    const answer = await fetchJSON(url, options);
    if (!answer.body || typeof answer.body !== "object") answer.body = {};
    return answer;
  } catch (err) {
    return { ok: false, status: 0, body: { error: `the server cannot be reached (${err.message})` } };
  }
}

export const api = {
  profiles: () => call("GET", "/api/profiles"),
  create: (body) => call("POST", "/api/profiles", body),
  update: (pid, body) => call("PATCH", `/api/profiles/${pid}`, body),
  remove: (pid, pin) => call("DELETE", `/api/profiles/${pid}`, pin ? { pin } : undefined),
  select: (pid, pin) => call("POST", `/api/profiles/${pid}/select`, pin ? { pin } : undefined),
  leave: () => call("POST", "/api/me/leave"),
};

// what an answer says about the session; "choose" may turn into "none" once the chooser
// has listed the profiles
function stateOf({ ok, status, body }) {
  if (ok) return { state: "chosen", mode: body.mode, profile: body.profile, preferences: body.preferences };
  if (status === 403 && body.profile_required) {
    return { state: body.mode === "users" ? "nobody" : "choose", mode: body.mode || session.mode,
             message: body.error || "" };
  }
  const why = status === 401 ? "your sign-in has expired: reload the page to sign in again"
    : body.error || (status ? `HTTP ${status}` : "no answer");
  return { state: "unavailable", message: why };
}

let generation = 0;  // bumped when the profile changes: answers for the old one are dropped
let lastKey = null;  // the last played row as last seen: when it changes, the rows did

const sameProfile = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function adopt(next) {
  const changed = next.state !== session.state || !sameProfile(next.profile ?? null, session.profile);
  const switched = (next.profile?.id ?? null) !== (session.profile?.id ?? null) || next.state !== session.state;
  Object.assign(session, { profile: null, preferences: null, message: "" }, next);
  if (switched) {
    generation++;
    lastKey = null;
    session.progress = new Map();
    session.home = null;
  }
  if (changed) emit("change");
  return switched;
}

export function mergeProgress(rows) {
  const ids = new Set();
  for (const [id, row] of Object.entries(rows)) {
    if (!row) continue;
    const old = session.progress.get(id);
    if (old && old.updated === row.updated && old.watched === row.watched && old.position === row.position) continue;
    session.progress.set(id, row);
    ids.add(id);
  }
  if (ids.size) emit("progress", ids);
}

async function loadProgress() {
  const gen = generation;
  const answer = await call("GET", "/api/me/progress");
  if (gen !== generation || !answer.ok) return;
  mergeProgress(answer.body.progress || {});
}

// the rows carry their videos' progress: the marks are brought up to date with them
function takeHome(body) {
  const rows = {};
  for (const list of Object.values(body)) {
    for (const item of list) if (item.progress) rows[item.video] = item.progress;
  }
  mergeProgress(rows);
  session.home = body;
  emit("home", body);
}

async function loadHome() {
  const gen = generation;
  const answer = await call("GET", "/api/me/home");
  if (gen === generation && answer.ok) takeHome(answer.body);
}

const keyOf = (last) => (last ? `${last.video} ${last.updated}` : "");

// The first look: `/api/profiles` (always 200: it says who is chosen, and makes the
// implicit choice of a household of one), then the marks and the rows at once.
export function start() {
  const who = call("GET", "/api/profiles").then(({ ok, status, body }) => {
    if (!ok) { adopt(stateOf({ ok, status, body })); return false; }
    const profile = body.profiles.find((p) => p.id === body.current) || null;
    if (profile) adopt({ state: "chosen", mode: body.mode, profile });
    else adopt({ state: body.mode === "users" ? "nobody" : body.profiles.length ? "choose" : "none", mode: body.mode });
    return !!profile;
  });
  // the marks are wanted before a filtered first render (?seen=unwatched): ready says when
  const ready = who.then(async (chosen) => {
    if (!chosen) return;
    const gen = generation;
    const [progress, home] = await Promise.all([call("GET", "/api/me/progress"), call("GET", "/api/me/home")]);
    if (gen !== generation) return;
    if (progress.ok) {
      const rows = progress.body.progress || {};
      mergeProgress(rows);
      const last = Object.values(rows).reduce((a, b) => (!a || b.updated > a.updated ? b : a), null);
      lastKey = keyOf(last);
    }
    if (home.ok) takeHome(home.body);
  });
  watch();
  return { ready };
}

// a profile was chosen on this page (the select answer is /api/me's, less last_played)
export function chosen(body) {
  adopt({ state: "chosen", mode: "local", profile: body.profile, preferences: body.preferences });
  return Promise.all([loadProgress(), loadHome()]).then(schedule);
}

// this profile's name or colour changed on this page
export function updated(profile) {
  adopt({ state: "chosen", mode: session.mode, profile, preferences: session.preferences });
}

export function setState(state, message = "") {
  adopt({ state, mode: session.mode, message });
}

export async function setWatched(id, watched) {
  const answer = await call("POST", `/api/me/watched/${id}`, { watched });
  if (answer.ok) {
    const row = answer.body.progress;
    lastKey = keyOf(row);
    mergeProgress({ [id]: row });
    loadHome();
  } else if (answer.body.profile_required || answer.status === 503) {
    refresh(true);
  }
  return answer;
}

// ---- staying fresh: a small question every few seconds while the page is seen
let timer = 0, busy = false;

async function refresh(full) {
  if (busy) return;
  busy = true;
  try {
    const answer = await call("GET", "/api/me");
    const next = stateOf(answer);
    if (next.state === "choose" && (session.state === "guest" || session.state === "none")) return;
    if (adopt(next)) {
      if (next.state === "chosen") await Promise.all([loadProgress(), loadHome()]);
      if (next.state === "chosen") lastKey = keyOf(answer.body.last_played);
      return;
    }
    if (next.state !== "chosen") return;
    const last = answer.body.last_played;
    const key = keyOf(last);
    if (last) mergeProgress({ [last.video]: last });
    if (full) await Promise.all([loadProgress(), loadHome()]);
    else if (key !== lastKey) await loadHome();
    lastKey = key;
  } finally {
    busy = false;
  }
}

function schedule() {
  clearTimeout(timer);
  timer = 0;
  const wait = session.state === "chosen" ? POLL_MS : session.state === "unavailable" ? RETRY_MS : 0;
  if (wait && document.visibilityState === "visible") {
    timer = setTimeout(() => refresh(false).finally(schedule), wait);
  }
}

function watch() {
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") { clearTimeout(timer); return; }
    if (session.state === "chosen" || session.state === "unavailable") refresh(true).finally(schedule);
  });
  // back from the player through the back-forward cache: the page was frozen, not reloaded
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && session.state === "chosen") refresh(true).finally(schedule);
  });
  on("change", schedule);
}
