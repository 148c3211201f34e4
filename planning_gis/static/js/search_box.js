// The citizen's search box: asks /api/search as they type (with or without diacritics) and
// lists plans, zones, documents, places and decision numbers; Enter opens the full result page.
(function () {
  "use strict";
  const input = document.getElementById("search-q");
  if (!input) return;
  const list = input.form.querySelector(".search-results");
  const api = input.dataset.searchApi;
  const KIND_VI = { plan: "Đồ án", zone: "Ô đất", document: "Văn bản", place: "Địa danh", decision: "Số quyết định" };
  // Results are built as DOM nodes with text: a title is never parsed as HTML.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k in node) node[k] = v; else node.setAttribute(k, v);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined).map((c) => (typeof c === "object" ? c : String(c))));
    return node;
  }
  // title_html/snippet_html are escaped text with <mark> around the matched words: read them back
  // as text pieces and marks (the entities markupsafe writes are decoded; nothing is parsed).
  const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&#34;": '"', "&quot;": '"', "&#39;": "'", "&#x27;": "'" };
  const unescape = (s) => s.replace(/&(?:amp|lt|gt|quot|#34|#39|#x27);/g, (e) => ENTITIES[e]);
  function marked(html) {
    const out = [];
    String(html ?? "").split(/(<mark>[\s\S]*?<\/mark>)/).forEach((part) => {
      if (part.startsWith("<mark>") && part.endsWith("</mark>")) out.push(el("mark", {}, unescape(part.slice(6, -7))));
      else if (part) out.push(unescape(part));
    });
    return out;
  }
  // Only our own paths become links.
  const ownUrl = (u) => (typeof u === "string" && u.startsWith("/") && !u.startsWith("//") ? u : "#");
  let timer = null, seq = 0;

  function render(results) {
    list.replaceChildren();
    for (const r of results) {
      // A list of links (not a listbox of options: an option may not hold a link); the arrow
      // keys move the focus from the box to the links and between them.
      const li = document.createElement("li");
      // title_html and snippet_html come escaped from the server, with <mark> only.
      li.append(el("a", { href: ownUrl(r.url) }, el("span", { className: "kind" }, KIND_VI[r.kind] || r.kind), ...marked(r.title_html),
        ...(r.subtitle ? [el("br"), el("small", {}, r.subtitle)] : []),
        ...(r.snippet_html ? [el("br"), el("small", { className: "snippet" }, r.page ? "Trang " + r.page + ": " : "", ...marked(r.snippet_html))] : [])));
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
  const links = () => [...list.querySelectorAll("li > a")];
  input.addEventListener("keydown", (e) => {
    const all = links();
    if ((e.key === "ArrowDown" || e.key === "ArrowUp") && all.length && !list.hidden) {
      e.preventDefault();
      all[e.key === "ArrowDown" ? 0 : all.length - 1].focus();
    } else if (e.key === "Escape") {
      render([]);
    }
  });
  list.addEventListener("keydown", (e) => {
    const all = links();
    const i = all.indexOf(document.activeElement);
    if (i < 0) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const j = i + (e.key === "ArrowDown" ? 1 : -1);
      if (j < 0 || j >= all.length) input.focus(); else all[j].focus();
    } else if (e.key === "Escape") {
      e.preventDefault();
      input.focus();
      render([]);
    }
  });
  document.addEventListener("click", (e) => { if (!input.form.contains(e.target)) list.hidden = true; });
})();
