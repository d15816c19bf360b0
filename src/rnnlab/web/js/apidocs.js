// The /docs page: lists every operation of /openapi.json with its parameters, body fields (with their
// allowed ranges) and responses. Written for this app so that no script comes from a CDN.

import { api } from "./api.js";
import { el } from "./format.js";

function resolve(schema, spec) {
  let s = schema || {};
  while (s.$ref) s = spec.components.schemas[s.$ref.split("/").pop()];
  return s;
}

function typeOf(schema, spec) {
  const s = resolve(schema, spec);
  if (schema && schema.$ref) return schema.$ref.split("/").pop();
  if (s.anyOf) return s.anyOf.map((x) => typeOf(x, spec)).join(" | ");
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.type === "array") return `${typeOf(s.items, spec)}[]`;
  return s.type || "object";
}

function rangeOf(s) {
  const parts = [];
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (s.maxLength !== undefined) parts.push(`≤ ${s.maxLength} chars`);
  if (s.pattern) parts.push(`pattern ${s.pattern}`);
  for (const alt of s.anyOf || []) parts.push(...rangeOf(alt));
  return parts;
}

function fieldsTable(schema, spec, prefix = "") {
  const s = resolve(schema, spec);
  const rows = [];
  for (const [name, prop] of Object.entries(s.properties || {})) {
    const p = resolve(prop, spec);
    const def = prop.default !== undefined ? JSON.stringify(prop.default) : "";
    rows.push(el("tr", {},
      el("td", { class: "name", text: prefix + name }),
      el("td", { text: typeOf(prop, spec) }),
      el("td", { text: rangeOf(prop).join(", ") }),
      el("td", { text: def }),
      el("td", { text: prop.description || p.description || "" })));
    if (prop.$ref && p.properties && prefix.split(".").length < 3) rows.push(...fieldsTable(prop, spec, `${prefix}${name}.`));
  }
  return rows;
}

function table(head, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))), el("tbody", {}, rows));
}

function operation(path, method, op, spec) {
  const node = el("article", { class: "op" },
    el("h2", {}, el("span", { class: `method ${method}`, text: method.toUpperCase() }), path),
    op.summary ? el("p", { text: op.description || op.summary }) : null);
  const params = op.parameters || [];
  if (params.length) {
    node.append(el("h3", { text: "Parameters" }), table(["name", "in", "type", "range", "description"],
      params.map((p) => el("tr", {}, el("td", { class: "name", text: p.name }), el("td", { text: p.in }),
        el("td", { text: typeOf(p.schema, spec) }), el("td", { text: rangeOf(p.schema || {}).join(", ") }), el("td", { text: p.description || "" })))));
  }
  const body = op.requestBody && op.requestBody.content["application/json"];
  if (body) node.append(el("h3", { text: "JSON body" }), table(["field", "type", "range", "default", "description"], fieldsTable(body.schema, spec)));
  const responses = Object.entries(op.responses || {}).map(([code, r]) => {
    const content = r.content && r.content["application/json"];
    return el("tr", {}, el("td", { class: "name", text: code }), el("td", { text: r.description || "" }), el("td", { text: content ? typeOf(content.schema, spec) : "" }));
  });
  node.append(el("h3", { text: "Responses" }), table(["status", "meaning", "body"], responses));
  return node;
}

async function main() {
  const root = document.getElementById("api");
  try {
    const spec = await api.openapi();
    const byTag = new Map();
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const tag = (op.tags && op.tags[0]) || "other";
        if (!byTag.has(tag)) byTag.set(tag, []);
        byTag.get(tag).push(operation(path, method, op, spec));
      }
    }
    root.replaceChildren(...[...byTag].flatMap(([tag, nodes]) => [el("h2", { class: "tag", text: tag }), ...nodes]),
      el("p", { class: "muted", text: `OpenAPI ${spec.openapi}, ${spec.info.title} ${spec.info.version}.` }));
  } catch (e) {
    root.replaceChildren(el("p", { class: "status error", text: `Could not load /openapi.json: ${e.message}` }));
  }
}

main();
