// The player's side of the profile (README, "Profiles and resume everywhere"): who is
// watching, their preferences, and their state of this video, all kept by the server, so a
// video started on the laptop resumes on the phone. Without a profile (none chosen, the
// store unavailable) the player still works, and keeps what it can in this browser.
//
// Only answers that are 200 by design are asked for (`/api/profiles` says whether a profile
// is chosen before `/api/me` is asked), so a guest's console shows no failed request.
import { fetchJSON } from "./common.js";

const LOCAL_PREFS = "mediaserve:prefs";
const LOCAL_QUALITY = "mediaserve:quality";  // the quality menu's key before profiles
const DEFAULTS = { subtitles: false, subtitle_language: "", quality: "auto", autoplay_next: true };

async function ask(method, url, body) {
  const options = { method, headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  try { return await fetchJSON(url, options); } catch { return { ok: false, status: 0, body: null }; }
}

function localPrefs() {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(LOCAL_PREFS)) || {}; } catch { saved = {}; }
  let quality = null;
  try { quality = localStorage.getItem(LOCAL_QUALITY); } catch { quality = null; }
  return { ...DEFAULTS, ...saved, ...(quality ? { quality } : {}) };
}

function keepLocally(prefs) {
  try {
    localStorage.setItem(LOCAL_PREFS, JSON.stringify(prefs));
    localStorage.setItem(LOCAL_QUALITY, prefs.quality);
  } catch { /* private mode: not remembered */ }
}

export const profile = { chosen: false, name: "", prefs: { ...DEFAULTS } };

// Who is watching: sets `profile` (a guest's preferences from this browser).
export async function loadProfile() {
  const list = await ask("GET", "/api/profiles");
  if (list.ok && list.body && list.body.current) {
    const me = await ask("GET", "/api/me");
    if (me.ok && me.body) {
      Object.assign(profile, { chosen: true, name: me.body.profile.name,
                               prefs: { ...DEFAULTS, ...me.body.preferences } });
      return profile;
    }
  }
  Object.assign(profile, { chosen: false, name: "", prefs: localPrefs() });
  return profile;
}

// Change some preferences: on the server for a profile, else in this browser.
export async function savePrefs(changes) {
  Object.assign(profile.prefs, changes);
  if (!profile.chosen) { keepLocally(profile.prefs); return true; }
  const answer = await ask("PUT", "/api/me/preferences", changes);
  if (answer.ok && answer.body) Object.assign(profile.prefs, answer.body.preferences);
  return answer.ok;
}

// This profile's row for the video (README, "The profile API": PROGRESS), or null.
export async function progressOf(id) {
  if (!profile.chosen) return null;
  const answer = await ask("GET", `/api/me/progress?ids=${id}`);
  return (answer.ok && answer.body && answer.body.progress[id]) || null;
}

// A position report; `leaving`: the page is going away, so a beacon carries it (a string
// body: text/plain, no preflight; the server reads it as JSON).
export function report(id, body, leaving = false) {
  const url = `/api/me/progress/${id}`;
  if (leaving && navigator.sendBeacon && navigator.sendBeacon(url, JSON.stringify(body))) {
    return Promise.resolve(null);
  }
  return ask("POST", url, body).then((answer) => (answer.ok ? answer.body.progress : null));
}

export async function setWatched(id, watched) {
  const answer = await ask("POST", `/api/me/watched/${id}`, { watched });
  return answer.ok ? answer.body.progress : null;
}
