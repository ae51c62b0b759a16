// Shared by every page: the CSRF header for fetch, and announcing text in the live region.
// Pages work without scripts; modules only enhance them.

/** The CSRF token of this page (from <meta name="csrf-token">). */
export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

/** fetch() on this origin with the CSRF header and JSON accepted. */
export function apiFetch(url, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("X-CSRF-Token", csrfToken());
  if (!headers.has("Accept")) headers.set("Accept", "application/json");
  return fetch(url, { credentials: "same-origin", ...options, headers });
}

/** Say ``text`` through the page's polite live region (screen readers read it out). */
export function announce(text) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  // A separate task, so the same text twice is announced twice.
  window.setTimeout(() => { live.textContent = text; }, 50);
}
