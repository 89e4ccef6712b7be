// The library page: cards for every video, search as you type, sort, folders, keyboard; the
// profile's rows and marks (me.js, home.js), "Who is watching?" (chooser.js) and the shows
// (shows.js), which live in the same page and its URL (`?view=shows`, `?show=ID`).
//
// Built for large libraries: the compact listing (`/api/videos?view=cards`) is loaded once,
// each card's DOM is built the first time it is shown and then reused, search compares
// against a precomputed lower-case string, and sorting happens only when the order changes
// (filtering keeps the sorted order). Cards use `content-visibility: auto`, so the browser
// lays out only the ones near the viewport. The profile's state is asked for at the same
// time as the listing and never waited for (unless the URL filters by it); the rows go in
// after the first cards are painted. Timings are left as `performance` marks
// (`ms:first-render`, `ms:filter`, `ms:rows`) for benchmarks/web_bench.py to read.
import { collator, el, fmtDuration, fmtSize, isTyping, loadCards } from "./common.js";
import { fold, makeCard, prepare, showMarks } from "./cards.js";
import { localHome, renderHome } from "./home.js";
import { on, session, start } from "./me.js";

const $ = (id) => document.getElementById(id);
const ROOT = "";  // the folder name of files directly in the library root

const state = { videos: [], byId: new Map(), sorted: [], sortKey: "", cards: new Map(), folders: [],
                folderRank: new Map(), folderCounts: new Map(), loaded: false, painted: false,
                shown: new Set(), view: "library", profileId: null };
const videoById = (id) => state.byId.get(id);

// Loaded when first needed, not before the first cards: "Who is watching?" and the top bar's
// profile (once the profile is known), the shows (their view), a card's menu (its button).
let chooserModule = null;
const chooser = () => (chooserModule ||= import("./chooser.js").then((m) => {
  m.initChooser({ done: layout });
  return m;
}));

const SORTS = {
  name: (a, b) => collator.compare(a.title, b.title) || collator.compare(a.path, b.path),
  added: (a, b) => a.added - b.added,
  duration: (a, b) => (a.duration ?? -1) - (b.duration ?? -1),
  size: (a, b) => a.size - b.size,
};

// the "Watched" filter: which of the profile's rows (or none) a video must have
const SEEN = {
  unwatched: (row) => !(row && row.watched),
  progress: (row) => !!(row && row.in_progress),
  watched: (row) => !!(row && row.watched),
};
const NONE_SEEN = { unwatched: "No unwatched videos", progress: "No videos in progress", watched: "No watched videos" };

function cardFor(v) {
  let card = state.cards.get(v.id);
  if (!card) { card = makeCard(v); state.cards.set(v.id, card); }
  return card;
}

function controls() {
  return { q: $("search").value.trim(), folder: $("folder").value, sort: $("sort").value,
           group: $("group").checked, seen: $("seen").value };
}

const seenTest = (seen) => (session.state === "chosen" && SEEN[seen]) || null;

function sortedVideos(sort) {
  if (state.sortKey !== sort) {
    const desc = sort.startsWith("-");
    const cmp = SORTS[sort.replace(/^-/, "")] || SORTS.name;
    state.sorted = [...state.videos].sort(desc ? (a, b) => cmp(b, a) : cmp);
    state.sortKey = sort;
  }
  return state.sorted;
}

function matching({ q, folder, sort, seen }) {
  const words = fold(q).split(/\s+/).filter(Boolean);
  const keep = seenTest(seen);
  return sortedVideos(sort).filter((v) =>
    (folder === "*" || v.folder === folder) && words.every((w) => v.hay.includes(w))
    && (!keep || keep(session.progress.get(v.id))));
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

function describe(c, shown) {
  const total = state.videos.length;
  const seen = seenTest(c.seen) ? c.seen : "all";
  if (!total) return "This library has no videos yet. Run `mediaserve scan FOLDER`.";
  if (!shown) {
    const where = c.folder !== "*" ? ` in ${folderLabel(c.folder)}` : "";
    if (!c.q) return `${NONE_SEEN[seen] || "No videos"}${where}.`;
    return `No ${seen === "all" ? "" : `${seen === "progress" ? "in-progress" : seen} `}videos match “${c.q}”${where}.`;
  }
  return shown === total ? "" : `Showing ${shown.toLocaleString()} of ${total.toLocaleString()} videos.`;
}

function render(afterPaint) {
  const c = controls();
  const shown = matching(c);
  state.shown = new Set(shown.map((v) => v.id));
  paint(shown, c.group, afterPaint);
  $("status").textContent = describe(c, shown.length);
  $("library-view").classList.toggle("searching", !!c.q);
  saveUrl(c);
  return shown.length;
}

function saveUrl(c) {
  const params = new URLSearchParams();
  if (c.q) params.set("q", c.q);
  if (c.folder !== "*") params.set("folder", c.folder);
  if (c.sort !== "name") params.set("sort", c.sort);
  if (!c.group) params.set("group", "0");
  if (c.seen !== "all") params.set("seen", c.seen);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

const hasOption = (select, value) => [...select.options].some((o) => o.value === value);

function restoreUrl() {
  const params = new URLSearchParams(location.search);
  $("search").value = params.get("q") || "";
  const folder = params.get("folder");
  $("folder").value = folder != null && state.folderCounts.has(folder) ? folder : "*";
  const sort = params.get("sort");
  $("sort").value = sort && hasOption($("sort"), sort) ? sort : "name";
  const seen = params.get("seen");
  $("seen").value = seen && hasOption($("seen"), seen) ? seen : "all";
  $("group").checked = params.get("group") !== "0";
}

function fillFolders() {
  const counts = new Map();
  for (const v of state.videos) counts.set(v.folder, (counts.get(v.folder) || 0) + 1);
  const names = [...counts.keys()].sort((a, b) =>
    a === b ? 0 : a === ROOT ? -1 : b === ROOT ? 1 : collator.compare(a, b));
  state.folders = names;
  state.folderRank = new Map(names.map((name, i) => [name, i]));
  state.folderCounts = counts;
  for (const name of names) {
    $("folder").append(el("option", { value: name, text: `${folderLabel(name)} (${counts.get(name)})` }));
  }
}

function summarize() {
  const ok = state.videos.filter((v) => !v.broken);
  const seconds = ok.reduce((s, v) => s + (v.duration || 0), 0);
  const bytes = state.videos.reduce((s, v) => s + (v.size || 0), 0);
  const broken = state.videos.length - ok.length;
  $("summary").textContent = `${state.videos.length.toLocaleString()} videos · ${fmtDuration(seconds)} · ${fmtSize(bytes)}` +
    (broken ? ` · ${broken} unavailable` : "");
}

// Arrow keys move between cards: left/right in reading order, up/down to the card nearest
// in the row above/below (the grid reflows with the window, so it is measured). A row of
// the home strip, the library and a show's seasons are each their own area.
function moveFocus(event) {
  let current = document.activeElement;
  if (current instanceof HTMLButtonElement && current.classList.contains("more")) {
    current = current.parentElement.querySelector("a.card-link");  // as from its card
  }
  if (!(current instanceof HTMLAnchorElement) || !current.classList.contains("card-link")) return;
  const area = current.closest("#groups, .strip, #shows-view");
  if (!area) return;
  const links = [...area.querySelectorAll("a.card-link")];
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
  if (target) { target.focus(); target.scrollIntoView({ block: "nearest", inline: "nearest" }); }
}

function onKey(event) {
  if (event.key === "/" && !isTyping(event.target) && !event.ctrlKey && !event.metaKey) {
    if (state.view !== "library" || !$("chooser").hidden) return;
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

// ---- the profile's part: rows, marks, the chooser

function updateHome() {
  if (!state.painted || state.view !== "library") return;
  const home = session.state === "chosen" ? session.home
    : session.state === "pending" || session.state === "choose" ? null : localHome(state.videos);
  if (!home) return;
  renderHome($("home"), home, videoById);
  performance.mark("ms:rows");
}

let rerender = 0;
function refreshView() {  // the show pages count and pick from the marks: drawn again
  clearTimeout(rerender);
  rerender = setTimeout(() => { if (state.view !== "library") showView(); }, 150);
}

// Marks changed: the cards that show those videos, wherever they are (a library card not in
// the page now is updated too: it is reused). One pass over the rows' and shows' cards, not
// one query per id: a first load brings up to 20,000 rows.
function onProgress(ids) {
  const keep = seenTest(controls().seen);
  const elsewhere = new Map();
  for (const li of document.querySelectorAll("#home li.card, #shows-view li.card")) {
    if (ids.has(li.dataset.id)) elsewhere.set(li.dataset.id, [...(elsewhere.get(li.dataset.id) || []), li]);
  }
  let moved = false;
  for (const id of ids) {
    const row = session.progress.get(id);
    const card = state.cards.get(id);
    if (card) showMarks(card, row);
    for (const other of elsewhere.get(id) || []) showMarks(other, row);
    if (keep && keep(row) !== state.shown.has(id) && videoById(id)) moved = true;
  }
  if (moved && state.view === "library") render();
  refreshView();
}

function onChange() {
  chooser().then(({ openChooser, renderWhoami }) => {
    renderWhoami();
    if (session.state === "choose" && $("chooser").hidden) openChooser({ auto: true });
  });
  const unavailable = session.state === "unavailable";
  $("notice").hidden = !unavailable;
  $("notice").textContent = unavailable
    ? `Profiles are unavailable: ${session.message.replace(/^profiles are unavailable: /, "")}. `
      + "The library works; positions and watched marks are not kept for now." : "";
  $("seen-field").hidden = session.state !== "chosen";
  const id = session.profile?.id ?? null;
  if (id !== state.profileId) {  // someone else: the last one's marks go (theirs follow)
    if (state.profileId !== null) {
      for (const [vid, card] of state.cards) showMarks(card, session.progress.get(vid));
    }
    state.profileId = id;
    $("home").dataset.key = "";
  }
  layout();
  updateHome();
  if (state.loaded && state.view === "library" && controls().seen !== "all") render();
  refreshView();
}

// the chooser, when shown, stands in for the page's views
function layout() {
  const choosing = !$("chooser").hidden;
  $("library-view").hidden = choosing || state.view !== "library";
  $("shows-view").hidden = choosing || state.view === "library";
  $("whoami").classList.toggle("choosing", choosing);
}

// ---- views: the library, the shows, one show (all in the URL)

function viewOf() {
  const params = new URLSearchParams(location.search);
  if (params.get("show")) return ["show", params.get("show")];
  return [params.get("view") === "shows" ? "shows" : "library", null];
}

async function showView() {
  const [view, id] = viewOf();
  const box = $("shows-view");
  const { renderShow, renderShows } = await import("./shows.js");
  // drawn again when marks change (one set from an episode's menu): the focus stays put
  const active = box.contains(document.activeElement) ? document.activeElement : null;
  const where = active && [active.closest("li")?.dataset.id, active.className.split(" ")[0]];
  if (view === "shows") await renderShows(box, state.videos);
  else if (view === "show") await renderShow(box, id, videoById);
  if (where && where[0] && !box.contains(document.activeElement)) {
    box.querySelector(`li[data-id="${where[0]}"] .${where[1]}`)?.focus();
  }
  const title = box.querySelector("h2")?.textContent || "Shows";
  document.title = `${title} · mediaserve`;
}

function route({ focus = false, afterPaint } = {}) {
  const [view] = viewOf();
  state.view = view === "library" ? "library" : "shows";
  for (const [tab, current] of [["tab-library", view === "library"], ["tab-shows", view !== "library"]]) {
    if (current) $(tab).setAttribute("aria-current", "page");
    else $(tab).removeAttribute("aria-current");
  }
  layout();
  if (view === "library") {
    document.title = "Library · mediaserve";
    restoreUrl();
    render(afterPaint);
    updateHome();
    return;
  }
  state.painted = true;
  showView().then(() => { if (focus) $("shows-view").querySelector("h2")?.focus(); });
}

function navigate(href) {
  history.pushState(null, "", href);
  route({ focus: true });
  window.scrollTo(0, 0);
}

function wire() {
  $("search").addEventListener("input", (event) => {
    const start = event.timeStamp;
    // the keystroke is done when the filtered grid has been painted
    render(() => performance.measure("ms:filter", { start }));
  });
  for (const id of ["folder", "sort", "group", "seen"]) $(id).addEventListener("change", () => render());
  $("controls").addEventListener("submit", (event) => event.preventDefault());
  document.addEventListener("keydown", onKey);
  document.addEventListener("click", (event) => {
    const more = event.target.closest("button.more");
    if (more) {
      const status = (text) => { $("status").textContent = text; };
      import("./menu.js").then((menu) => menu.clicked(more, { videoById, status }));
      return;
    }
    const link = event.target.closest("a[data-nav]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey
        || event.shiftKey || event.altKey || !state.loaded) return;
    event.preventDefault();
    navigate(link.getAttribute("href"));
  });
  window.addEventListener("popstate", () => state.loaded && route());
  on("change", onChange);
  on("progress", onProgress);
  on("home", updateHome);
}

async function main() {
  const me = start();  // who is watching, their marks and rows: beside the listing
  wire();
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
  state.byId = new Map(state.videos.map((v) => [v.id, v]));
  fillFolders();
  summarize();
  const seen = new URLSearchParams(location.search).get("seen");
  if (seen && seen !== "all") {  // a filtered first render needs the marks (bounded wait)
    await Promise.race([me.ready, new Promise((resolve) => setTimeout(resolve, 3000))]);
  }
  state.loaded = true;
  route({ afterPaint: () => { performance.mark("ms:first-paint"); state.painted = true; updateHome(); } });
  performance.mark("ms:first-render");
  document.body.dataset.ready = "1";
}

main();
