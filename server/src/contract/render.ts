/**
 * The API reference at /api/docs: the OpenAPI document rendered on the server into one HTML page (no script, one
 * stylesheet of our own), so it passes a CSP of `default-src 'none'; style-src 'self'` and needs no bundle.
 */
type Json = any;

const esc = (s: unknown) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
/** `code` spans for backticks, nothing else (descriptions are ours, but escaped all the same). */
const prose = (s: unknown) => esc(s).replace(/`([^`]+)`/g, "<code>$1</code>");
const anchor = (name: string) => `schema-${name.replace(/[^\w.-]/g, "_")}`;
const refName = (ref: string) => ref.replace("#/components/schemas/", "");

/** A schema as indented JSON with each `$ref` a link to its component. */
function schemaHtml(schema: Json): string {
  const json = esc(JSON.stringify(schema, null, 2));
  return `<pre>${json.replace(/&quot;\$ref&quot;: &quot;#\/components\/schemas\/([^&]+)&quot;/g, (_m, n: string) => `&quot;$ref&quot;: <a href="#${anchor(n)}">${n}</a>`)}</pre>`;
}
const typeOf = (s: Json): string => {
  if (!s) return "";
  if (s.$ref) return refName(s.$ref);
  if (s.type === "array") return `${typeOf(s.items)}[]`;
  const t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? (s.anyOf ? "any of" : ""));
  return [t, s.format, s.enum ? `one of ${s.enum.join(", ")}` : "", s.pattern ? `/${s.pattern}/` : ""].filter(Boolean).join(" · ");
};
const bodyLink = (content: Json) => {
  const s = content?.["application/json"]?.schema;
  return s?.$ref ? `<a href="#${anchor(refName(s.$ref))}">${esc(refName(s.$ref))}</a>` : "";
};

export function renderReference(doc: Json, cssHref: string): string {
  const out: string[] = [];
  out.push(
    `<!doctype html><html lang="zh-Hant-TW"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${esc(doc.info.title)} ${esc(doc.info.version)}</title><link rel="stylesheet" href="${esc(cssHref)}"></head><body>`,
    `<header><h1>${esc(doc.info.title)} <small>${esc(doc.info.version)} · OpenAPI ${esc(doc.openapi)}</small></h1>`,
    `<p>${prose(doc.info.description)}</p>`,
    `<p>機器可讀 machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> · 認證 auth: <code>Authorization: Bearer &lt;API key&gt;</code></p></header><nav><ul>`,
  );
  const ops: { path: string; method: string; op: Json }[] = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) for (const [method, op] of Object.entries<Json>(item)) ops.push({ path, method, op });
  for (const tag of doc.tags as { name: string; description: string }[]) {
    out.push(`<li><a href="#tag-${esc(tag.name)}">${esc(tag.name)}</a><ul>`);
    for (const o of ops.filter((x) => x.op.tags?.[0] === tag.name))
      out.push(`<li><a href="#op-${esc(o.op.operationId)}"><span class="m m-${esc(o.method)}">${esc(o.method.toUpperCase())}</span> ${esc(o.path)}</a></li>`);
    out.push("</ul></li>");
  }
  out.push(`<li><a href="#schemas">schemas</a></li></ul></nav><main>`);
  for (const tag of doc.tags as { name: string; description: string }[]) {
    out.push(`<section id="tag-${esc(tag.name)}"><h2>${esc(tag.name)}</h2><p>${prose(tag.description)}</p>`);
    for (const { path, method, op } of ops.filter((x) => x.op.tags?.[0] === tag.name)) {
      out.push(
        `<article id="op-${esc(op.operationId)}"><h3><span class="m m-${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>`,
      );
      out.push(`<p class="summary">${prose(op.summary)} <small>(${esc(op.operationId)}${op.security?.length === 0 ? ", no API key" : ""})</small></p>`);
      if (op.description) out.push(`<p>${prose(op.description)}</p>`);
      if (op.parameters?.length) {
        out.push("<table><thead><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th><th>description</th></tr></thead><tbody>");
        for (const p of op.parameters)
          out.push(
            `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? "yes" : "no"}</td><td>${esc(typeOf(p.schema))}</td><td>${prose(p.description)}</td></tr>`,
          );
        out.push("</tbody></table>");
      }
      if (op.requestBody) out.push(`<p>請求 request body: ${bodyLink(op.requestBody.content)} ${prose(op.requestBody.description)}</p>`);
      out.push("<table><thead><tr><th>status</th><th>description</th><th>body</th></tr></thead><tbody>");
      for (const [status, r] of Object.entries<Json>(op.responses))
        out.push(`<tr><td>${esc(status)}</td><td>${prose(r.description)}</td><td>${bodyLink(r.content)}</td></tr>`);
      out.push("</tbody></table></article>");
    }
    out.push("</section>");
  }
  out.push(`<section id="schemas"><h2>schemas</h2>`);
  for (const [name, schema] of Object.entries<Json>(doc.components.schemas))
    out.push(`<article id="${anchor(name)}"><h3>${esc(name)}</h3>${schemaHtml(schema)}</article>`);
  out.push("</section></main></body></html>");
  return out.join("\n");
}
