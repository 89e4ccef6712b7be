// Previous and next: an episode's neighbours in its show (the server's shows model, so the
// last episode of season 1 leads to the first of season 2), any other video's in its
// folder. When an episode ends and its show has a next one, that starts by itself after a
// 10-second countdown the viewer can cancel or skip; whether it does is the profile's
// preference (autoplay_next), switched from the check box beside the links. The next file
// of a plain folder (films, home videos) is only a link: it is no continuation.
import { collator, el, fetchJSON, loadCards } from "./common.js";
import { profile, savePrefs } from "./profile.js";

const $ = (id) => document.getElementById(id);
export const COUNTDOWN_S = 10;
const CARRY_ON = "mediaserve:play-next";

const seasonName = (n) => (n === 0 ? "Specials" : `Season ${n}`);

// {prev, next, text, href, show}: ids of the neighbours and what to say of the position.
async function inShow(v, all) {
  const { ok, body: show } = await fetchJSON(`/api/shows/${v.show_id}`);
  if (!ok) return null;
  for (const season of show.seasons) {
    const at = season.episodes.findIndex((e) => e.id === v.id);
    if (at < 0) continue;
    const episode = season.episodes[at];
    return {
      prev: episode.previous_episode_id, next: episode.next_episode_id,
      text: `${seasonName(season.number)}, ${at + 1} of ${season.episodes.length} · ${show.name}`,
      href: `/?show=${show.id}#season-${season.number}`, show: true,
    };
  }
  return null;
}

function inFolder(v, all) {
  const here = all.filter((o) => o.folder === v.folder)
    .sort((a, b) => collator.compare(a.title, b.title) || collator.compare(a.name, b.name));
  const at = here.findIndex((o) => o.id === v.id);
  return { prev: here[at - 1]?.id, next: here[at + 1]?.id,
           text: `${at + 1} of ${here.length}${v.folder ? ` in ${v.folder}` : ""}` };
}

export class Episodes {
  constructor(video, id) {
    this.video = video;
    this.id = id;
    this.next = null;   // the card of the next video, once known
    this.timer = 0;
  }

  async load() {
    let all;
    try { all = await loadCards(); } catch { return; }
    const me = all.find((v) => v.id === this.id);
    if (!me) return;
    const found = (me.show_id && await inShow(me, all)) || inFolder(me, all);
    const byId = new Map(all.map((v) => [v.id, v]));
    const position = $("position");
    position.replaceChildren(found.href ? el("a", { href: found.href, text: found.text }) : found.text);
    for (const [link, other] of [[$("prev"), byId.get(found.prev)], [$("next"), byId.get(found.next)]]) {
      if (!other) continue;
      link.href = `/watch/${other.id}`;
      link.title = other.title;
      link.hidden = false;
    }
    this.next = byId.get(found.next) || null;
    if (this.next && found.show) this.offerAutoplay();  // episodes only
  }

  offerAutoplay() {
    const box = $("autoplay");
    box.checked = profile.prefs.autoplay_next !== false;
    box.closest("label").hidden = false;
    box.addEventListener("change", () => {
      savePrefs({ autoplay_next: box.checked });
      if (!box.checked) this.cancel();
    });
    this.video.addEventListener("ended", () => { if (box.checked) this.countdown(); });
    this.video.addEventListener("play", () => this.cancel());
    $("upnext-cancel").addEventListener("click", () => this.cancel());
    $("upnext-now").addEventListener("click", () => this.go());
  }

  countdown() {
    clearInterval(this.timer);
    let left = COUNTDOWN_S;
    $("upnext-title").textContent = this.next.title;
    $("upnext-count").textContent = String(left);
    $("upnext").hidden = false;
    this.timer = setInterval(() => {
      left -= 1;
      $("upnext-count").textContent = String(left);
      if (left <= 0) this.go();
    }, 1000);
  }

  cancel() {
    clearInterval(this.timer);
    this.timer = 0;
    $("upnext").hidden = true;
  }

  go() {
    clearInterval(this.timer);
    try { sessionStorage.setItem(CARRY_ON, this.next.id); } catch { /* it waits for a press */ }
    location.href = `/watch/${this.next.id}`;
  }
}

// Whether this page was opened by the countdown (or "Play now"), so it plays at once.
export function carriedOn(id) {
  try {
    const asked = sessionStorage.getItem(CARRY_ON) === id;
    sessionStorage.removeItem(CARRY_ON);
    return asked;
  } catch { return false; }
}
