// The rows above the library: Continue watching (in progress, the most recent first, with
// its bar), Next up (the next episode of each show being watched) and Recently added, from
// `/api/me/home`. Without a profile (none yet, browsing without one, or the store is
// unavailable) only Recently added is shown, picked from the listing the page already has.
// Rows are put in when they arrive, never before the library's first cards.
import { el } from "./common.js";
import { makeCard, prepare, titleParts } from "./cards.js";

const ROWS = [["continue_watching", "Continue watching"], ["next_up", "Next up"],
              ["recently_added", "Recently added"]];
export const ROW_SIZE = 20;

// the newest files of the listing, as the server picks them (missing files left out)
export function localHome(videos) {
  const newest = videos.filter((v) => v.status !== "missing")
    .sort((a, b) => b.added - a.added).slice(0, ROW_SIZE);
  return { recently_added: newest.map((v) => ({ video: v.id, card: v })) };
}

function cardOf(item, videoById) {
  return videoById(item.video) || prepare({ ...item.card });
}

// "After S01E03" (the show's name is on the card already), "After Film (2017)"
function follows(v, after) {
  if (!after) return null;
  const [head] = titleParts(after);
  const same = after.show && after.show === v.show && head.startsWith(`${after.show} `);
  return `After ${same ? head.slice(after.show.length + 1) : head}`;
}

// Rows are rebuilt only when their lists change (a mark changes a card in place); the card
// that had the focus keeps it.
export function renderHome(container, home, videoById) {
  const key = JSON.stringify(ROWS.map(([name]) => (home[name] || []).map((i) => i.video)));
  if (key === container.dataset.key) return;
  container.dataset.key = key;
  const focused = container.contains(document.activeElement)
    ? [document.activeElement.closest("section.row")?.dataset.row,
       document.activeElement.closest("li")?.dataset.id, document.activeElement.className] : null;
  const sections = [];
  for (const [name, heading] of ROWS) {
    const items = home[name] || [];
    if (!items.length) continue;
    const id = `row-${name}`;
    const list = el("ul", { class: "strip", "aria-labelledby": id });
    for (const item of items) {
      const v = cardOf(item, videoById);
      list.append(makeCard(v, { label: item.after ? follows(v, videoById(item.after)) : null }));
    }
    sections.push(el("section", { class: "row", "data-row": name },
                     el("h2", { id, text: heading }), list));
  }
  container.replaceChildren(...sections);
  container.hidden = !sections.length;
  if (focused) {
    const [row, vid, cls] = focused;
    const again = container.querySelector(`section[data-row="${row}"] li[data-id="${vid}"] .${cls.split(" ")[0]}`)
      || container.querySelector(`section[data-row="${row}"] a.card-link`) || container.querySelector("a.card-link");
    again?.focus();
  }
}
