// The library page: cards for every video, search as you type, sort, folders, keyboard.
//
// Built for large libraries: the compact listing (`/api/videos?view=cards`) is loaded once,
// each card's DOM is built the first time it is shown and then reused, search compares
// against a precomputed lower-case string, and sorting happens only when the order changes
// (filtering keeps the sorted order). Cards use `content-visibility: auto`, so the browser
// lays out only the ones near the viewport. Timings are left as `performance` marks
// (`ms:first-render`, `ms:filter`) for benchmarks/web_bench.py to read.
import { BADGES, collator, el, fmtDuration, fmtResolution, fmtSize, isTyping, loadCards } from "./common.js";

const $ = (id) => document.getElementById(id);
const ROOT = "";  // the folder name of files directly in the library root
const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();

const state = { videos: [], sorted: [], sortKey: "", cards: new Map(), folders: [],
                folderRank: new Map() };

const SORTS = {
  name: (a, b) => collator.compare(a.title, b.title) || collator.compare(a.path, b.path),
  added: (a, b) => a.added - b.added,
  duration: (a, b) => (a.duration ?? -1) - (b.duration ?? -1),
  size: (a, b) => a.size - b.size,
};

function prepare(v) {
  v.path = v.folder ? `${v.folder}/${v.name}` : v.name;
  v.hay = fold(`${v.title} ${v.path}`);
  v.added = Number(v.mtime_ns) || 0;
  v.broken = !!(v.problem && v.problem[0] === "error");
  return v;
}

function makeCard(v) {
  const ext = v.name.includes(".") ? v.name.slice(v.name.lastIndexOf(".") + 1).toUpperCase() : "";
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
  const meta = el("div", { class: "meta" },
    el("h3", { class: "title", text: v.title }),
    el("p", { class: "facts", text: facts.join(" · ") }),
    badges.childElementCount ? badges : null,
    v.broken ? el("p", { class: "reason" }, el("span", { class: "sr-only", text: "Unavailable: " }),
                  v.problem[2]) : null);
  const link = el("a", { class: "card-link", href: `/watch/${v.id}`, "data-id": v.id,
                         title: v.path }, thumb, meta);
  return el("li", { class: v.broken ? "card broken" : "card" }, link);
}

function cardFor(v) {
  let card = state.cards.get(v.id);
  if (!card) { card = makeCard(v); state.cards.set(v.id, card); }
  return card;
}

function controls() {
  return { q: $("search").value.trim(), folder: $("folder").value, sort: $("sort").value,
           group: $("group").checked };
}

function sortedVideos(sort) {
  if (state.sortKey !== sort) {
    const desc = sort.startsWith("-");
    const cmp = SORTS[sort.replace(/^-/, "")] || SORTS.name;
    state.sorted = [...state.videos].sort(desc ? (a, b) => cmp(b, a) : cmp);
    state.sortKey = sort;
  }
  return state.sorted;
}

function matching({ q, folder, sort }) {
  const words = fold(q).split(/\s+/).filter(Boolean);
  return sortedVideos(sort).filter((v) =>
    (folder === "*" || v.folder === folder) && words.every((w) => v.hay.includes(w)));
}

function folderLabel(folder) { return folder === ROOT ? "Library root" : folder; }

// Cards are put in the page in chunks: the first screenful at once, the rest a few hundred
// per frame, so the first paint (and every keystroke's) does not wait for 5,000 cards.
const FIRST_CHUNK = 60, NEXT_CHUNK = 400;
let paintToken = 0;

function paint(shown, group, afterPaint) {
  const token = ++paintToken;
  const container = $("groups");
  const counts = new Map();
  for (const v of shown) counts.set(v.folder, (counts.get(v.folder) || 0) + 1);
  let order = shown;
  if (group) {  // bucket by folder (in folder order), keeping the chosen sort inside each
    const buckets = state.folders.map(() => []);
    for (const v of shown) buckets[state.folderRank.get(v.folder)].push(v);
    order = buckets.flat();
  }
  let at = 0, list = null, folder = null, sections = 0;
  const pump = (count) => {
    if (token !== paintToken) return;  // a newer search or sort took over
    const end = Math.min(order.length, at + count);
    for (; at < end; at++) {
      const v = order[at];
      if (!list || (group && v.folder !== folder)) {
        folder = v.folder;
        const headingId = `folder-${sections++}`;
        list = el("ul", { class: "grid", "aria-labelledby": group ? headingId : null,
                          "aria-label": group ? null : "Videos" });
        container.append(group
          ? el("section", { class: "group" },
               el("h2", { id: headingId, text: folderLabel(folder) },
                  el("span", { class: "count", text: ` ${counts.get(folder)}` })), list)
          : list);
      }
      list.append(cardFor(v));
    }
    if (at < order.length) requestAnimationFrame(() => setTimeout(() => pump(NEXT_CHUNK)));
    else performance.mark("ms:all-rendered");
  };
  container.replaceChildren();
  // afterPaint runs once the first chunk is on screen; scheduled first, so it runs before
  // the next chunk's work (which also waits for a frame: the page never stops painting)
  if (afterPaint) requestAnimationFrame(() => setTimeout(afterPaint));
  pump(FIRST_CHUNK);
}

function folderOrder(a, b) {
  return a === b ? 0 : a === ROOT ? -1 : b === ROOT ? 1 : collator.compare(a, b);
}

function render(afterPaint) {
  const c = controls();
  const shown = matching(c);
  paint(shown, c.group, afterPaint);
  const total = state.videos.length;
  $("status").textContent = !total ? "This library has no videos yet. Run `mediaserve scan FOLDER`."
    : !shown.length ? `No videos match “${c.q}”${c.folder !== "*" ? ` in ${folderLabel(c.folder)}` : ""}.`
    : shown.length === total ? "" : `Showing ${shown.length.toLocaleString()} of ${total.toLocaleString()} videos.`;
  saveUrl(c);
  return shown.length;
}

function saveUrl(c) {
  const params = new URLSearchParams();
  if (c.q) params.set("q", c.q);
  if (c.folder !== "*") params.set("folder", c.folder);
  if (c.sort !== "name") params.set("sort", c.sort);
  if (!c.group) params.set("group", "0");
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function restoreUrl(folders) {
  const params = new URLSearchParams(location.search);
  $("search").value = params.get("q") || "";
  const folder = params.get("folder");
  if (folder != null && folders.has(folder)) $("folder").value = folder;
  const sort = params.get("sort");
  if (sort && [...$("sort").options].some((o) => o.value === sort)) $("sort").value = sort;
  $("group").checked = params.get("group") !== "0";
}

function fillFolders() {
  const counts = new Map();
  for (const v of state.videos) counts.set(v.folder, (counts.get(v.folder) || 0) + 1);
  const names = [...counts.keys()].sort(folderOrder);
  state.folders = names;
  state.folderRank = new Map(names.map((name, i) => [name, i]));
  for (const name of names) {
    $("folder").append(el("option", { value: name, text: `${folderLabel(name)} (${counts.get(name)})` }));
  }
  return counts;
}

function summarize() {
  const ok = state.videos.filter((v) => !v.broken);
  const seconds = ok.reduce((s, v) => s + (v.duration || 0), 0);
  const bytes = state.videos.reduce((s, v) => s + (v.size || 0), 0);
  const broken = state.videos.length - ok.length;
  $("summary").textContent = `${state.videos.length.toLocaleString()} videos · ${fmtDuration(seconds)} · ${fmtSize(bytes)}` +
    (broken ? ` · ${broken} unavailable` : "");
}

// Arrow keys move between cards: left/right in reading order, up/down to the card
// nearest in the row above/below (the grid reflows with the window, so it is measured).
function moveFocus(event) {
  const current = document.activeElement;
  if (!(current instanceof HTMLAnchorElement) || !current.classList.contains("card-link")) return;
  const links = [...$("groups").querySelectorAll("a.card-link")];
  const at = links.indexOf(current);
  let target = null;
  if (event.key === "ArrowRight") target = links[at + 1];
  else if (event.key === "ArrowLeft") target = links[at - 1];
  else if (event.key === "Home") target = links[0];
  else if (event.key === "End") target = links[links.length - 1];
  else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const step = event.key === "ArrowDown" ? 1 : -1;
    const here = current.getBoundingClientRect();
    let rowTop = null, best = null, bestDx = Infinity;
    for (let i = at + step; i >= 0 && i < links.length; i += step) {
      const r = links[i].getBoundingClientRect();
      if (Math.abs(r.top - here.top) < 2) continue;  // same row
      if (rowTop === null) rowTop = r.top;
      else if (Math.abs(r.top - rowTop) >= 2) break;  // past the next row
      const dx = Math.abs(r.left - here.left);
      if (dx < bestDx) { bestDx = dx; best = links[i]; }
    }
    target = best;
  } else return;
  event.preventDefault();
  if (target) { target.focus(); target.scrollIntoView({ block: "nearest" }); }
}

function onKey(event) {
  if (event.key === "/" && !isTyping(event.target) && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    $("search").focus();
    $("search").select();
  } else if (event.key === "Escape" && event.target === $("search")) {
    $("search").value = "";
    render();
  } else if (!event.altKey && !event.ctrlKey && !event.metaKey) {
    moveFocus(event);
  }
}

async function main() {
  let videos;
  try {
    videos = await loadCards();
  } catch (err) {
    $("summary").textContent = "";
    $("status").textContent = `${err.message}. Is the server running?`;
    return;
  }
  performance.mark("ms:listing-loaded");
  state.videos = videos.map(prepare);
  const folders = fillFolders();
  restoreUrl(folders);
  summarize();
  render(() => performance.mark("ms:first-paint"));
  performance.mark("ms:first-render");
  document.body.dataset.ready = "1";
  $("search").addEventListener("input", (event) => {
    const start = event.timeStamp;
    // the keystroke is done when the filtered grid has been painted
    render(() => performance.measure("ms:filter", { start }));
  });
  for (const id of ["folder", "sort", "group"]) $(id).addEventListener("change", () => render());
  $("controls").addEventListener("submit", (event) => event.preventDefault());
  document.addEventListener("keydown", onKey);
}

main();
