// The subtitles button under the player (the browser's own menu is three clicks deep and
// off by default): on or off, and which language when there are several. It starts as the
// profile prefers (subtitles on or off, and the language), and what the viewer changes here
// or in the browser's menu becomes the preference.
import { el } from "./common.js";
import { profile, savePrefs } from "./profile.js";

const $ = (id) => document.getElementById(id);

// The track for a language tag: exact ("pt-BR"), then the same language ("pt"), else none.
function matching(tracks, language) {
  const want = (language || "").toLowerCase();
  if (!want) return -1;
  const langs = tracks.map((t) => (t.language || "").toLowerCase());
  const exact = langs.indexOf(want);
  if (exact >= 0) return exact;
  const base = want.split("-")[0];
  return langs.findIndex((l) => l.split("-")[0] === base);
}

export class Subtitles {
  constructor(video) {
    this.video = video;
    this.button = $("subs");
    this.select = $("subs-lang");
  }

  get tracks() {
    return [...this.video.textTracks].filter((t) => t.kind === "subtitles" || t.kind === "captions");
  }

  // After the <track>s are added.
  start() {
    const tracks = this.tracks;
    if (!tracks.length) return;
    this.select.replaceChildren(...tracks.map((t, i) => el("option", { value: String(i), text: t.label || t.language || `Track ${i + 1}` })));
    const preferred = matching(tracks, profile.prefs.subtitle_language);
    this.select.value = String(Math.max(0, preferred));
    this.select.hidden = tracks.length < 2;
    this.button.hidden = false;
    this.show(profile.prefs.subtitles ? Math.max(0, preferred) : -1);
    this.button.addEventListener("click", () => {
      this.show(this.current() >= 0 ? -1 : Number(this.select.value));
      this.remember();
    });
    this.select.addEventListener("change", () => {
      this.show(Number(this.select.value));
      this.remember();
    });
    // the browser's own menu: follow it, and keep what it chose
    this.video.textTracks.addEventListener("change", () => {
      // Chromium's automatic track selection runs after the tracks are added and may turn
      // one on beside ours: not the viewer's choice (its menu shows one at a time, and only
      // once the video has loaded), so the button's choice is put back
      const showing = this.tracks.filter((t) => t.mode === "showing").length;
      if (this.video.readyState === 0 || showing > 1) { this.show(this.set); return; }
      const at = this.current();
      if (at === this.set) return;  // what this button did, or the start
      this.set = at;
      if (at >= 0) this.select.value = String(at);
      this.label(at);
      this.remember();
    });
  }

  current() {
    return this.tracks.findIndex((t) => t.mode === "showing");
  }

  show(index) {
    this.tracks.forEach((t, i) => { t.mode = i === index ? "showing" : "disabled"; });
    this.set = index;
    this.label(index);
  }

  label(index) {
    const on = index >= 0;
    this.button.setAttribute("aria-pressed", String(on));
    this.button.textContent = on ? `Subtitles: ${this.tracks[index].label || "on"}` : "Subtitles: off";
  }

  remember() {
    const at = this.current();
    const changes = { subtitles: at >= 0 };
    if (at >= 0) changes.subtitle_language = this.tracks[at].language || "";
    const prefs = profile.prefs;
    if (prefs.subtitles === changes.subtitles
        && (!changes.subtitles || prefs.subtitle_language === changes.subtitle_language)) return;
    savePrefs(changes);
  }
}
