// The quality menu under the player: Auto, each rendition, and Original where the file
// plays as it is or repackaged. The viewer's choice is remembered by the two small
// functions below (in this browser for now; a profile can keep it on the server later by
// replacing only them).
import { el } from "./common.js";

const KEY = "mediaserve:quality";

// "auto", "original" or a rendition name such as "720p".
export function rememberedQuality() {
  try { return localStorage.getItem(KEY) || "auto"; } catch { return "auto"; }
}

export function rememberQuality(value) {
  try { localStorage.setItem(KEY, value); } catch { /* private mode: not remembered */ }
}

export class QualityMenu {
  // select: the <select>; onPick(value) is called when the viewer picks another entry
  constructor(select, onPick) {
    this.select = select;
    this.box = select.closest(".quality");
    select.addEventListener("change", () => {
      rememberQuality(select.value);
      onPick(select.value);
    });
  }

  // options: [{value, label}]; current: the value playing. One entry is no choice: hidden.
  render(options, current) {
    this.select.replaceChildren(...options.map((o) => el("option", { value: o.value, text: o.label })));
    this.select.value = current;
    this.box.hidden = options.length < 2;
  }

  get value() { return this.select.value; }
}
