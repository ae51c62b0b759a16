// The checkout's return page: poll /credits/status until the payment webhook has landed,
// then show the credits and announce them. Without scripts the "Check again" link does it.
import { announce, apiFetch } from "./app.js";

const box = document.getElementById("checkout-return");
const state = document.getElementById("checkout-state");

async function poll(after, delay) {
  let answer;
  try {
    const r = await apiFetch(`/credits/status?after=${encodeURIComponent(after)}`);
    if (!r.ok) throw new Error(String(r.status));
    answer = await r.json();
  } catch {
    answer = null; // a network blip: try again
  }
  if (answer && answer.confirmed) {
    state.textContent = answer.message;
    state.className = "flash flash-success";
    state.removeAttribute("data-waiting");
    for (const id of ["checkout-hint", "checkout-refresh"]) {
      const el = document.getElementById(id);
      if (el) el.closest("p").remove();
    }
    announce(answer.message);
    return;
  }
  window.setTimeout(() => poll(after, Math.min(delay * 1.5, 5000)), delay);
}

if (box && state && state.dataset.waiting) {
  poll(box.dataset.after, 700);
}
