import type { OpenApiDocument, OperationObject } from "./document.js";

/**
 * The API reference as one self-contained HTML page, rendered on the server from the OpenAPI
 * document: no script, no CDN (the app may have no internet), readable on a laptop or a phone.
 */
type Schema = Record<string, unknown>;

const esc = (value: unknown) =>
  String(value).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

function typeOf(schema: Schema): string {
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.split("/").pop()!;
    return `<a href="#schema-${esc(name)}">${esc(name)}</a>`;
  }
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => `<code>${esc(JSON.stringify(v))}</code>`).join(" | ");
  if (schema.const !== undefined) return `<code>${esc(JSON.stringify(schema.const))}</code>`;
  if (schema.type === "array") return `array of ${typeOf((schema.items as Schema) ?? {})}`;
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : (schema.type as string | undefined);
  return esc([type ?? "any", schema.format ? `(${schema.format})` : ""].filter(Boolean).join(" "));
}

function constraints(schema: Schema): string {
  const parts: string[] = [];
  for (const [key, label] of [
    ["minLength", "min length"],
    ["maxLength", "max length"],
    ["minimum", "≥"],
    ["maximum", "≤"],
    ["minItems", "min items"],
    ["maxItems", "max items"],
    ["pattern", "pattern"],
    ["default", "default"],
  ] as const) {
    // A format (uuid, date-time) says what its generated pattern says, readably.
    if (key === "pattern" && schema.format) continue;
    // zod bounds every integer by the safe range; that says nothing to a reader.
    if ((key === "maximum" || key === "minimum") && Math.abs(Number(schema[key])) === Number.MAX_SAFE_INTEGER) continue;
    if (schema[key] !== undefined)
      parts.push(`${label} <code>${esc(typeof schema[key] === "string" ? schema[key] : JSON.stringify(schema[key]))}</code>`);
  }
  return parts.length ? ` <span class="c">${parts.join(", ")}</span>` : "";
}

function renderSchema(schema: Schema, depth = 0): string {
  if (depth > 6) return "";
  for (const key of ["oneOf", "anyOf"] as const) {
    if (Array.isArray(schema[key])) {
      return `<p>One of:</p><ol>${(schema[key] as Schema[]).map((s) => `<li>${s.description ? `<p>${esc(s.description)}</p>` : ""}${renderSchema(s, depth + 1)}</li>`).join("")}</ol>`;
    }
  }
  const items = schema.type === "array" ? (schema.items as Schema | undefined) : undefined;
  const target = items ?? schema;
  const properties = target.properties as Record<string, Schema> | undefined;
  if (!properties) return `<p>${typeOf(schema)}${constraints(schema)}</p>`;
  const required = new Set((target.required as string[] | undefined) ?? []);
  const rows = Object.entries(properties)
    .map(([name, property]) => {
      const nested =
        property.properties || (property.type === "array" && (property.items as Schema | undefined)?.properties) || property.oneOf;
      return (
        `<li><code class="n">${esc(name)}</code>${required.has(name) ? ' <span class="r">required</span>' : ""} ${typeOf(property)}${constraints(property)}` +
        (property.description ? `<div class="d">${esc(property.description)}</div>` : "") +
        (nested ? renderSchema(property, depth + 1) : "") +
        "</li>"
      );
    })
    .join("");
  return `${items ? "<p>array of objects:</p>" : ""}<ul class="p">${rows}</ul>`;
}

function renderOperation(path: string, method: string, op: OperationObject): string {
  const params = (op.parameters as Schema[] | undefined) ?? [];
  const body = op.requestBody as { description?: string; content: Record<string, { schema: Schema }> } | undefined;
  const anchor = `op-${esc(op.operationId)}`;
  return `<section id="${anchor}" class="op">
<h3><span class="m ${esc(method)}">${esc(method.toUpperCase())}</span> <code>${esc(path)}</code></h3>
<p><strong>${esc(op.summary ?? "")}</strong>${Array.isArray(op.security) && op.security.length === 0 ? ' <span class="r">no credentials</span>' : ""}</p>
${op.description ? `<p>${esc(op.description)}</p>` : ""}
${
  params.length
    ? `<h4>Parameters</h4><ul class="p">${params
        .map(
          (p) =>
            `<li><code class="n">${esc(p.name)}</code> <span class="c">in ${esc(p.in)}</span>${p.required ? ' <span class="r">required</span>' : ""} ${typeOf((p.schema as Schema) ?? {})}${constraints((p.schema as Schema) ?? {})}${p.description ? `<div class="d">${esc(p.description)}</div>` : ""}</li>`,
        )
        .join("")}</ul>`
    : ""
}
${
  body
    ? `<h4>Request body</h4>${body.description ? `<p>${esc(body.description)}</p>` : ""}${Object.entries(body.content)
        .map(
          ([type, media]) =>
            `<details><summary><code>${esc(type)}</code></summary>${renderSchema(media.schema)}${media.schema.description ? `<p class="d">${esc(media.schema.description)}</p>` : ""}</details>`,
        )
        .join("")}`
    : ""
}
<h4>Responses</h4>
${Object.entries(op.responses)
  .map(([status, response]) => {
    const content = (response.content as Record<string, { schema: Schema }> | undefined) ?? {};
    return `<div class="resp"><p><span class="s s${esc(status[0])}">${esc(status)}</span> ${esc(response.description)}</p>${Object.entries(
      content,
    )
      .map(([type, media]) => `<details><summary><code>${esc(type)}</code></summary>${renderSchema(media.schema)}</details>`)
      .join("")}</div>`;
  })
  .join("")}
</section>`;
}

export function renderReferencePage(document: OpenApiDocument, documentUrl: string): string {
  const info = document.info as { title: string; version: string; summary?: string; description?: string };
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );
  const schemas = (document.components as { schemas: Record<string, Schema> }).schemas;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} API reference</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;background:#fafbfc}
main{max-width:60rem;margin:0 auto;padding:1rem}
nav ul{columns:2 18rem;padding-left:1.2rem}
code{font:13px ui-monospace,SFMono-Regular,Consolas,monospace;background:#eef1f4;padding:0 .25em;border-radius:3px;word-break:break-word}
.op{background:#fff;border:1px solid #d8dee4;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:3.5em;text-align:center;border-radius:4px;color:#fff;font-size:13px;padding:0 .4em}
.get{background:#1f6feb}.post{background:#1a7f37}
.s{font-weight:600;padding:0 .35em;border-radius:3px}.s2{background:#dafbe1}.s4{background:#fff1c2}.s5{background:#ffd8d3}
.r{color:#9a6700;font-size:12px}.c{color:#57606a;font-size:13px}.d{color:#3d444d}
ul.p{list-style:none;padding-left:1rem;border-left:2px solid #eef1f4}
summary{cursor:pointer}details{margin:.25rem 0}
</style></head>
<body><main>
<h1>${esc(info.title)} <small class="c">API ${esc(info.version)}, OpenAPI ${esc(document.openapi)}</small></h1>
<p>${esc(info.summary ?? "")}</p><p>${esc(info.description ?? "")}</p>
<p>Machine-readable: <a href="${esc(documentUrl)}">${esc(documentUrl)}</a></p>
<h2>Operations</h2>
<nav><ul>${operations.map(({ path, method, op }) => `<li><a href="#op-${esc(op.operationId)}">${esc(method.toUpperCase())} ${esc(path)}</a>: ${esc(op.summary ?? "")}</li>`).join("")}</ul></nav>
${operations.map(({ path, method, op }) => renderOperation(path, method, op)).join("\n")}
<h2>Schemas</h2>
${Object.entries(schemas)
  .map(
    ([name, schema]) =>
      `<section id="schema-${esc(name)}" class="op"><h3>${esc(name)}</h3>${schema.description ? `<p>${esc(schema.description)}</p>` : ""}${renderSchema(schema)}</section>`,
  )
  .join("\n")}
</main></body></html>`;
}
