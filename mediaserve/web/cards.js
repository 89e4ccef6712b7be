// A video's card, wherever it is shown (the library, the home rows, a show's seasons): its
// poster, its title as the name reads (an episode's show and SxxEyy, then its own title),
// facts, audit badges, the chosen profile's watched mark or progress bar, and the ⋯ button
// of its menu (menu.js). Marks are added only to the cards that have one, when they do.
import { BADGES, el, fmtDuration, fmtResolution, fmtSize } from "./common.js";
import { session } from "./me.js";

export const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
const pad = (n) => String(n).padStart(2, "0");

// A listing row made ready for the page: its path, search text, sort key and state.
export function prepare(v) {
  v.path = v.folder ? `${v.folder}/${v.name}` : v.name;
  v.hay = fold(`${v.title} ${v.path}`);
  v.added = Number(v.mtime_ns) || 0;
  v.broken = !!(v.problem && v.problem[0] === "error");
  return v;
}

// "Show S01E02 - Name" -> ["Show S01E02", "Name"]: the heading and the episode's own title
export function titleParts(v) {
  const title = v.title || v.name;
  const own = v.kind === "episode" && v.episode_title ? v.episode_title : "";
  if (own && title.endsWith(` - ${own}`)) return [title.slice(0, -(own.length + 3)), own];
  return [title, ""];
}

// S01E02, S01E01-E02, E05 (no season), or a daily show's date
export function episodeCode(season, e) {
  if (e.episode == null) return e.date || "";
  const end = e.episode_end != null && e.episode_end !== e.episode ? `-E${pad(e.episode_end)}` : "";
  return `${season == null ? "" : `S${pad(season)}`}E${pad(e.episode)}${end}`;
}

const MORE = el("button", { type: "button", class: "more", text: "⋯", "aria-haspopup": "menu",
                           "aria-expanded": "false" });

// options: heading/subtitle replace the title's parts (a show's page says "S01E02"),
// label is a line above the title ("Next to watch", "After S01E03")
export function makeCard(v, { heading, subtitle, label } = {}) {
  const ext = v.name && v.name.includes(".") ? v.name.slice(v.name.lastIndexOf(".") + 1).toUpperCase() : "";
  const facts = [fmtResolution(v.width, v.height).split(" ")[0], ext, fmtSize(v.size)].filter(Boolean);
  const img = el("img", { src: v.poster_url, alt: "", loading: "lazy", decoding: "async",
                          width: 320, height: 180 });
  img.addEventListener("error", () => img.classList.add("failed"), { once: true });
  const thumb = el("div", { class: "thumb" }, img,
                   v.duration != null ? el("span", { class: "duration", text: fmtDuration(v.duration) }) : null);
  const badges = el("p", { class: "badges" });
  for (const code of v.badges || []) {
    if (v.broken && v.problem[1] === code) continue;
    const warn = v.problem && v.problem[1] === code ? v.problem[2] : BADGES[code] || code;
    badges.append(el("span", { class: "badge", title: warn, text: BADGES[code] || code }));
  }
  const [head, sub] = heading != null ? [heading, subtitle || ""] : titleParts(v);
  const meta = el("div", { class: "meta" },
    label ? el("p", { class: "kicker", text: label }) : null,
    el("h3", { class: "title", text: head }),
    sub ? el("p", { class: "subtitle", text: sub }) : null,
    facts.length ? el("p", { class: "facts", text: facts.join(" · ") }) : null,
    badges.childElementCount ? badges : null,
    v.broken ? el("p", { class: "reason" }, el("span", { class: "sr-only", text: "Unavailable: " }),
                  v.problem[2]) : null);
  const link = el("a", { class: "card-link", href: `/watch/${v.id}`, "data-id": v.id,
                         title: v.path }, thumb, meta);
  const more = MORE.cloneNode(true);  // a copy is cheaper than building 5,000 buttons
  more.dataset.id = v.id;
  more.setAttribute("aria-label", `More for ${sub ? `${head}, ${sub}` : head}`);
  // a phone's portrait video (its size as shown: the server applies the rotation) is shown
  // whole and upright in the card's frame, not cropped to a landscape strip
  const portrait = v.width && v.height && v.height > v.width ? " portrait" : "";
  const card = el("li", { class: `card${v.broken ? " broken" : ""}${portrait}`, "data-id": v.id }, link, more);
  const row = session.progress.get(v.id);
  if (row) showMarks(card, row);
  return card;
}

// The profile's mark on a card: a check when watched, a bar when in progress, nothing else
// (the elements are made the first time a card needs them).
export function showMarks(card, row) {
  const watched = !!(row && row.watched);
  const going = !!(row && row.in_progress);
  card.classList.toggle("watched", watched);
  card.classList.toggle("going", going);
  let mark = card.querySelector(".mark");
  if (!watched && !going) { if (mark) mark.hidden = true; return; }
  if (!mark) {
    mark = el("span", { class: "mark" },
              el("span", { class: "seen", "aria-hidden": "true", text: "✓" }),
              el("span", { class: "bar", "aria-hidden": "true" }, el("span", { class: "fill" })),
              el("span", { class: "sr-only mark-text" }));
    card.querySelector(".thumb").append(mark);
  }
  mark.hidden = false;
  const share = going && row.duration ? Math.min(100, (row.position / row.duration) * 100) : 0;
  mark.querySelector(".fill").style.width = `${share.toFixed(1)}%`;  // CSSOM: allowed by the CSP
  mark.querySelector(".mark-text").textContent = watched ? " Watched."
    : ` In progress: ${fmtDuration(row.position)}${row.duration ? ` of ${fmtDuration(row.duration)}` : ""}.`;
}
