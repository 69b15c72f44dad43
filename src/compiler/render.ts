// Unit models → file text, through the handlebars templates precompiled at build time.

import HandlebarsRuntime from "handlebars/runtime.js";
import { templateSpecs } from "../generated/templates.js";
import { renderLine, type Unit } from "./unit.js";

// The runtime build has the full library's template() but its typings do not say so.
const Handlebars = HandlebarsRuntime as unknown as typeof import("handlebars");
type TemplateSpecification = Parameters<typeof Handlebars.template>[0];
type Template = (context: unknown) => string;
const compiled = new Map<string, Template>();

function template(name: string): Template {
  let t = compiled.get(name);
  if (!t) {
    t = Handlebars.template(templateSpecs[name] as TemplateSpecification) as Template;
    compiled.set(name, t);
  }
  return t;
}

export function renderUnit(unit: Unit): string {
  // Entries are joined here rather than iterated in the template: same text, a third of the
  // time when compiling thousands of units.
  const sections = unit.sections.map((s) => ({ name: s.name, body: s.entries.map((e) => renderLine(unit.name, e.key, e.value)).join("") }));
  return template("unit")({ comments: unit.comments, sections });
}

export function renderEnvironmentFile(comment: string, entries: Array<{ key: string; value: string }>): string {
  return template("env-file")({ comment, entries });
}
