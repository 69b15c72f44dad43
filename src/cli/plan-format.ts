// A compile result → what `svcc plan` prints: the start and stop order as text, or a dot graph.

import type { CompileResult } from "../compiler/compile.js";

export function planText(result: CompileResult): string {
  const { service } = result.plan;
  const active = result.steps.filter((s) => !s.noAction);
  const width = Math.max(...result.steps.map((s) => s.rid.length));
  const line = (s: (typeof result.steps)[number], i: number) =>
    `  ${String(i + 1).padStart(2)}. ${s.rid.padEnd(width)}  ${s.units.join(" + ") || "-"}  ${s.summary}${s.optional ? " (optional)" : ""}`;
  return [
    `${service.name}: ${result.target} on nodes ${service.nodes.join(", ") || "(not set)"}, orchestrate=${service.orchestrate}, rollback=${service.rollback}`,
    `start order (systemctl start ${result.target}):`,
    ...result.steps.map(line),
    `stop order (systemctl stop ${result.target} returns when the last is down; ${result.stopUnit} is the same barrier):`,
    ...[...active].reverse().map(line),
    ...(service.disabledRids.size ? [`disabled: ${[...service.disabledRids].join(", ")}`] : []),
    "",
  ].join("\n");
}

export function planDot(result: CompileResult): string {
  const quote = (s: string) => JSON.stringify(s);
  const lines = [`digraph ${quote(result.plan.service.name)} {`, "  rankdir=LR;", `  ${quote(result.target)} [shape=box, style=bold];`];
  for (const unit of result.units) {
    for (const section of unit.sections) {
      for (const { key, value } of section.entries) {
        if (key === "After" && unit.name !== result.stopUnit) lines.push(`  ${quote(value)} -> ${quote(unit.name)};`);
        if (key === "BindsTo") lines.push(`  ${quote(unit.name)} -> ${quote(value)} [style=dashed, label="binds"];`);
      }
    }
  }
  lines.push("}", "");
  return lines.join("\n");
}
