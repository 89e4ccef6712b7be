// Shared by the library and the player: formatting, fetching, small DOM helpers.

export const fmtSize = (n) => {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + " " + units[i];
};

export const fmtDuration = (s) => {
  if (s == null || !isFinite(s)) return "";
  s = Math.max(0, Math.floor(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = String(m).padStart(h ? 2 : 1, "0"), ss = String(sec).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
};

export const fmtResolution = (w, h) => {
  if (!w || !h) return "";
  const p = Math.min(w, h);
  const tag = p >= 2160 ? "4K" : p >= 1080 ? "1080p" : p >= 720 ? "720p" : p >= 480 ? "480p" : `${h}p`;
  return `${w}×${h} (${tag})`;
};

// Short labels for the audit's finding codes (the full message goes in a tooltip).
export const BADGES = {
  "missing": "missing", "not-regular": "not a file", "empty": "empty file",
  "unreadable": "unreadable", "not-media": "not a video", "truncated": "truncated",
  "corrupt": "corrupt", "no-video": "audio only", "too-few-frames": "too few frames",
  "stale": "changed", "timeout": "slow to read", "not-faststart": "slow start",
  "unplayable": "codec", "chromium-only": "Chromium only", "duplicate": "duplicate",
  "error": "error",
};

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key in node && !key.includes("-")) node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

export async function fetchJSON(url, options) {
  const res = await fetch(url, options);
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  return { ok: res.ok, status: res.status, body };
}

// The compact listing (`?view=cards`) as objects.
export async function loadCards() {
  const { ok, status, body } = await fetchJSON("/api/videos?view=cards");
  if (!ok) throw new Error(`the library could not be loaded (HTTP ${status})`);
  const fields = body.fields;
  return body.rows.map((row) => {
    const v = {};
    for (let i = 0; i < fields.length; i++) v[fields[i]] = row[i];
    return v;
  });
}

export const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

export const isTyping = (target) =>
  target instanceof HTMLElement &&
  (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
