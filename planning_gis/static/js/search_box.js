// The citizen's search box: asks /api/search as they type (with or without diacritics) and
// lists plans, zones, documents, places and decision numbers; Enter opens the full result page.
(function () {
  "use strict";
  const input = document.getElementById("search-q");
  if (!input) return;
  const list = input.form.querySelector(".search-results");
  const api = input.dataset.searchApi;
  const KIND_VI = { plan: "Đồ án", zone: "Ô đất", document: "Văn bản", place: "Địa danh", decision: "Số quyết định" };
  const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  let timer = null, seq = 0, selected = -1;

  function render(results) {
    list.innerHTML = "";
    selected = -1;
    for (const r of results) {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      // title_html and snippet_html come escaped from the server, with <mark> only.
      li.innerHTML = `<a href="${esc(r.url)}"><span class="kind">${esc(KIND_VI[r.kind] || r.kind)}</span>${r.title_html}` +
        (r.subtitle ? `<br><small>${esc(r.subtitle)}</small>` : "") +
        (r.snippet_html ? `<br><small class="snippet">${r.page ? "Trang " + esc(r.page) + ": " : ""}${r.snippet_html}</small>` : "") + "</a>";
      li.dataset.kind = r.kind;
      if (r.bbox) li.dataset.bbox = JSON.stringify(r.bbox);
      list.appendChild(li);
    }
    list.hidden = results.length === 0;
  }

  function query() {
    const q = input.value.trim();
    if (q.length < 2) { render([]); return; }
    const mine = ++seq;
    fetch(`${api}?q=${encodeURIComponent(q)}&limit=8`).then((r) => r.ok ? r.json() : { results: [] })
      .then((doc) => { if (mine === seq) render(doc.results || []); })
      .catch(() => {});
  }

  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(query, 150); });
  input.addEventListener("keydown", (e) => {
    const items = list.querySelectorAll("li");
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      selected = (selected + (e.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
      items.forEach((li, i) => li.setAttribute("aria-selected", i === selected ? "true" : "false"));
    } else if (e.key === "Enter" && selected >= 0 && items[selected]) {
      e.preventDefault();
      items[selected].querySelector("a").click();
    } else if (e.key === "Escape") {
      render([]);
    }
  });
  document.addEventListener("click", (e) => { if (!input.form.contains(e.target)) list.hidden = true; });
})();
