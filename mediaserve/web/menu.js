// The ⋯ menu of a card: mark watched or unwatched (with a profile), go to an episode's show,
// download the file. One popover serves every card (a library of 5,000 cards has one menu),
// filled and placed when a ⋯ button opens it; the browser's popover gives Escape, a click
// outside to close it, and focus back to the button.
import { el } from "./common.js";
import { session, setWatched } from "./me.js";

const menu = () => document.getElementById("card-menu");
let invoker = null;

function item(tag, props, text) {
  return el(tag, { role: "menuitem", class: "menu-item", tabindex: "-1", ...props, text });
}

function fill(v, { status }) {
  const items = [];
  const row = session.progress.get(v.id);
  if (session.state === "chosen") {
    const watched = !!(row && row.watched);
    const mark = item("button", { type: "button" }, watched ? "Mark as unwatched" : "Mark as watched");
    mark.addEventListener("click", async () => {
      menu().hidePopover();
      const answer = await setWatched(v.id, !watched);
      status(answer.ok ? "" : `Could not change the mark: ${answer.body.error || `HTTP ${answer.status}`}.`);
    });
    items.push(mark);
  }
  if (v.show_id) {
    const label = v.show ? `Go to ${v.show}` : "Go to the show";
    items.push(item("a", { href: `/?show=${v.show_id}`, "data-nav": "" }, label));
  }
  items.push(item("a", { href: `/api/videos/${v.id}/stream`, download: v.name || "" }, "Download"));
  menu().replaceChildren(...items);
}

// Below the button, kept inside the window (a phone is 360 px wide).
function place(button) {
  const box = button.getBoundingClientRect();
  const m = menu();
  const width = m.offsetWidth || 200;
  const left = Math.max(8, Math.min(box.right - width, window.innerWidth - width - 8));
  const below = box.bottom + 4;
  const top = below + m.offsetHeight > window.innerHeight - 8 ? Math.max(8, box.top - m.offsetHeight - 4) : below;
  m.style.left = `${left}px`;  // CSSOM, not an inline style attribute: the CSP allows it
  m.style.top = `${top}px`;
}

function moveIn(event) {
  const items = [...menu().querySelectorAll(".menu-item")];
  const at = items.indexOf(document.activeElement);
  let next = null;
  if (event.key === "ArrowDown") next = items[(at + 1) % items.length];
  else if (event.key === "ArrowUp") next = items[(at - 1 + items.length) % items.length];
  else if (event.key === "Home") next = items[0];
  else if (event.key === "End") next = items[items.length - 1];
  else if (event.key === "Tab") { menu().hidePopover(); return; }
  if (next) { event.preventDefault(); next.focus(); }
}

let options = null;
// a press on the button of the open menu closes it (the browser's light dismiss does, on the
// press): the click that follows must not open it again
let pressedOpen = false;

function init(given) {
  options = given;
  const m = menu();
  document.addEventListener("pointerdown", (event) => {
    pressedOpen = !!invoker && m.matches(":popover-open") && event.target.closest?.("button.more") === invoker;
  }, true);
  m.addEventListener("toggle", (event) => {
    if (event.newState !== "closed" || !invoker) return;
    const button = invoker;
    invoker = null;
    button.setAttribute("aria-expanded", "false");
    const active = document.activeElement;
    if (button.isConnected && (!active || active === document.body || m.contains(active))) button.focus();
  });
  m.addEventListener("keydown", moveIn);
  m.addEventListener("click", (event) => {
    if (event.target.closest("a.menu-item")) m.hidePopover();
  });
}

// A card's ⋯ button was clicked (the page loads this module then: no card needs it before).
// given: videoById(id) -> the card's video; status(text) says what failed.
export function clicked(button, given) {
  if (!options) init(given);
  const m = menu();
  if (pressedOpen || (invoker === button && m.matches(":popover-open"))) {
    pressedOpen = false;
    if (m.matches(":popover-open")) m.hidePopover();
    return;
  }
  const v = options.videoById(button.dataset.id);
  if (!v) return;
  if (m.matches(":popover-open")) m.hidePopover();
  invoker = button;
  fill(v, options);
  m.showPopover();
  place(button);
  button.setAttribute("aria-expanded", "true");
  m.querySelector(".menu-item")?.focus();
}
