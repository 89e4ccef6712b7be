// Shows, seasons and episodes (`/api/shows`, `/api/shows/{id}`): the list of shows, and a
// show's page with its seasons, each episode's watched mark and the next one to watch
// picked out. Both live in the library page's URL (`?view=shows`, `?show=ID`).
import { el, fetchJSON } from "./common.js";
import { episodeCode, makeCard, prepare } from "./cards.js";
import { session } from "./me.js";

let landed = "";  // the URL whose season anchor was scrolled to
const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
const watched = (id) => !!session.progress.get(id)?.watched;

function counts(show) {
  const seasons = show.season_count ? plural(show.season_count, "season") : "";
  return [seasons, plural(show.episode_count, "episode")].filter(Boolean).join(" · ");
}

async function load(url) {
  try {
    return await fetchJSON(url);
  } catch (err) {
    return { ok: false, status: 0, body: { error: `the server cannot be reached (${err.message})` } };
  }
}

function problem(container, text, back) {
  container.replaceChildren(
    el("h2", { id: "shows-title", tabindex: "-1", text: "Shows" }),
    el("p", { class: "status", role: "alert", text }),
    back ? el("p", {}, el("a", { href: "/?view=shows", "data-nav": "", text: "← All shows" })) : null,
    el("p", {}, el("a", { href: "/", "data-nav": "", text: "← Library" })));
}

// The shows as cards: poster, name, seasons and episodes, and how many are watched.
export async function renderShows(container, videos) {
  const { ok, status, body } = await load("/api/shows");
  if (!ok) return problem(container, `The shows could not be loaded (${body?.error || `HTTP ${status}`}).`, false);
  const done = new Map();
  if (session.state === "chosen") {
    for (const v of videos) if (v.show_id && watched(v.id)) done.set(v.show_id, (done.get(v.show_id) || 0) + 1);
  }
  const list = el("ul", { class: "grid shows", "aria-labelledby": "shows-title" });
  for (const show of body.shows) {
    const seen = done.get(show.id) || 0;
    const img = el("img", { src: show.poster_url, alt: "", loading: "lazy", decoding: "async", width: 320, height: 180 });
    img.addEventListener("error", () => img.classList.add("failed"), { once: true });
    list.append(el("li", { class: seen >= show.episode_count ? "card watched" : "card", "data-show": show.id },
      el("a", { class: "card-link", href: `/?show=${show.id}`, "data-nav": "" },
        el("div", { class: "thumb" }, img),
        el("div", { class: "meta" },
          el("h3", { class: "title", text: show.name }),
          el("p", { class: "facts", text: counts(show) }),
          session.state === "chosen"
            ? el("p", { class: "facts seen-count", text: `${seen} of ${show.episode_count} watched` }) : null))));
  }
  container.replaceChildren(
    el("h2", { id: "shows-title", tabindex: "-1", text: "Shows" }),
    body.shows.length ? list
      : el("p", { class: "status", text: "No shows yet. Episodes are found by their names: "
                  + "Show/Season 1/Show S01E02 - Title.mkv, Show.S01E02.mkv, Show - 1x02.mkv." }));
}

// The episode to watch next: the one being watched (last played, not finished), else the
// first not watched after the last played, else (nothing played) the first not watched.
// Specials (season 0, listed last) are only offered when nothing else is left.
export function nextEpisode(seasons, progress) {
  const regular = seasons.filter((s) => s.number !== 0).flatMap((s) => s.episodes);
  const all = [...regular, ...seasons.filter((s) => s.number === 0).flatMap((s) => s.episodes)];
  let last = -1, when = -Infinity;
  regular.forEach((e, i) => {
    const row = progress.get(e.id);
    if (row && row.updated > when) { when = row.updated; last = i; }
  });
  if (last >= 0 && !progress.get(regular[last].id).watched) return regular[last].id;
  const after = regular.slice(last + 1).find((e) => !progress.get(e.id)?.watched);
  if (after) return after.id;
  if (last < 0) return all.find((e) => !progress.get(e.id)?.watched)?.id ?? null;
  return null;
}

function episodeCard(e, season, videoById, next) {
  const v = videoById(e.id) || prepare({ ...e, name: "", folder: "", size: null, badges: [], problem: null });
  const card = makeCard(v, { heading: episodeCode(season.number, e) || e.title,
                             subtitle: e.episode_title || (e.part ? `Part ${e.part}` : ""),
                             label: e.id === next ? "Next to watch" : null });
  if (e.id === next) card.classList.add("next");
  return card;
}

// One show: its seasons (a jump list when there are several), episodes in order.
export async function renderShow(container, id, videoById) {
  const { ok, status, body } = await load(`/api/shows/${encodeURIComponent(id)}`);
  if (!ok) {
    return problem(container, status === 404 ? "This show is not in the library (any more): it may have been renamed or removed."
      : `The show could not be loaded (${body?.error || `HTTP ${status}`}).`, true);
  }
  const next = session.state === "chosen" ? nextEpisode(body.seasons, session.progress) : null;
  const found = next && body.seasons.flatMap((s) => s.episodes.map((e) => [s, e])).find(([, e]) => e.id === next);
  const play = found && ([episodeCode(found[0].number, found[1]), found[1].episode_title]
    .filter(Boolean).join(" · ") || found[1].title);
  const sections = body.seasons.map((season) => {
    const heading = `season-${season.number}`;
    const seen = season.episodes.filter((e) => watched(e.id)).length;
    return el("section", { class: "season", id: heading },
      el("h3", { id: `${heading}-title`, text: season.name },
        session.state === "chosen"
          ? el("span", { class: "count", text: ` ${seen} of ${season.episodes.length} watched` }) : null),
      el("ul", { class: "grid episodes", "aria-labelledby": `${heading}-title` },
         ...season.episodes.map((e) => episodeCard(e, season, videoById, next))));
  });
  const jump = body.seasons.length > 1
    ? el("nav", { class: "jump", "aria-label": "Seasons" },
         ...body.seasons.map((s) => el("a", { href: `#season-${s.number}`, text: s.name })))
    : null;
  container.replaceChildren(
    el("p", { class: "crumbs" }, el("a", { href: "/?view=shows", "data-nav": "", text: "← All shows" })),
    el("h2", { id: "shows-title", tabindex: "-1", text: body.name }),
    el("p", { class: "facts", text: [counts(body), body.folder ? `in ${body.folder}` : ""].filter(Boolean).join(" · ") }),
    play ? el("p", { class: "play-next" }, el("a", { class: "button", href: `/watch/${next}`, text: `Play ${play}` }))
      : null,
    jump, ...sections);
  // a link to a season (`/?show=ID#season-2`, as the player may give) lands on it once drawn
  // (once: the page is drawn again when marks change, and must not jump back then)
  const anchor = location.hash.slice(1);
  if (anchor.startsWith("season-") && landed !== location.href) {
    landed = location.href;
    document.getElementById(anchor)?.scrollIntoView();
  }
}
