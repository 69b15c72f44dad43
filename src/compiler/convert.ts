// Resolved strings → typed values, by keyword type. Each failure says what was expected.

// command.ts uses this module's word splitter and error class, and this module its splitter:
// a cycle that only matters at call time.
import { isIP } from "node:net";
import { isHostName, prefixLength } from "../runtime/address.js";
import { interfaceName, macAddress } from "../runtime/args.js";
import { UsageError } from "../runtime/errors.js";
import { commandArgv } from "./drivers/command.js";
import type { Keyword, Value } from "./keyword.js";
import { limits } from "./limits.js";
import { hasPlaceholder } from "./model.js";

export class ConversionError extends Error {}

const multiLine = /[\t\n]/;

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const ms = Math.round(Number(trimmed) * 1000);
    if (!(ms <= limits.durationMs)) throw new ConversionError(`"${text}" is longer than ${limits.durationMs / 86_400_000} days`);
    return ms;
  }
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) {
    throw new ConversionError(`expected a duration such as 500ms, 5s or 1m30s, got "${text}"`);
  }
  const ms = Math.round(parts.reduce((sum, p) => sum + Number(p[1]) * durationUnits[p[2]], 0));
  if (!(ms <= limits.durationMs)) throw new ConversionError(`"${text}" is longer than ${limits.durationMs / 86_400_000} days`);
  return ms;
}

/** POSIX-shell-like word splitting (quotes and backslashes), as OpenSVC's shlex does. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new ConversionError(`unterminated single quote in "${text}"`);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1])) j++;
        word += text[j];
      }
      if (j >= text.length) throw new ConversionError(`unterminated double quote in "${text}"`);
      inWord = true;
      i = j;
    } else if (c === "\\") {
      if (i + 1 < text.length) word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

const sizeUnits = "kmgtpe";
const maxSize = 2n ** 63n - 1n;

/** om3 util/sizeconv FromSize: 1024, 10k, 5MiB (powers of 1024), 5MB (powers of 1000); exact, as decimal digits. */
export function parseSize(text: string): string {
  const m = /^(\d+)(?:[.,](\d+))? ?([kmgtpe])?(i)?(b)?$/i.exec(text.trim());
  if (!m || (m[3] === undefined && m[4] !== undefined)) throw new ConversionError(`expected a size such as 1024, 64k, 512MiB or 2GB, got "${text}"`);
  const base = m[3] && m[5] && !m[4] ? 1000n : 1024n;
  const exponent = m[3] ? BigInt(sizeUnits.indexOf(m[3].toLowerCase()) + 1) : 0n;
  const fraction = m[2] ?? "";
  const scaled = BigInt(`${m[1]}${fraction}`) * base ** exponent;
  const bytes = scaled / 10n ** BigInt(fraction.length);
  if (bytes > maxSize) throw new ConversionError(`size "${text}" is too large (at most ${maxSize} bytes)`);
  return bytes.toString();
}

export function normalisePath(text: string): string {
  if (!text.startsWith("/")) throw new ConversionError(`expected an absolute path, got "${text}"`);
  if (multiLine.test(text)) throw new ConversionError("a path cannot hold a tab or a line break");
  // Paths reach units unquoted (WorkingDirectory=, Where=): a trailing backslash would join the next line.
  if (text.endsWith("\\")) throw new ConversionError(`a path cannot end with a backslash, got "${text}"`);
  const parts = text.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === "." || p === "..")) throw new ConversionError(`"." and ".." are not allowed in a path, got "${text}"`);
  const path = `/${parts.join("/")}`;
  if (/\s$/.test(path)) throw new ConversionError(`a path cannot end with a space, got "${text}"`);
  if (path.length > limits.pathChars) throw new ConversionError(`a path of ${path.length} characters: at most ${limits.pathChars}`);
  const long = parts.find((p) => Buffer.byteLength(p) > limits.pathComponentChars);
  if (long) throw new ConversionError(`a path component of more than ${limits.pathComponentChars} bytes ("${long.slice(0, 20)}…")`);
  return path;
}

/**
 * Values that units pass to \`svcc res\` are checked by the runtime's own flag checks, so that
 * what compiles is what the runtime will accept on the node.
 */
function asRuntimeAccepts(check: () => unknown, text: string, expected: string): string {
  try {
    check();
    return text;
  } catch (err) {
    if (err instanceof UsageError) throw new ConversionError(`expected ${expected}, got "${text}"`);
    throw err;
  }
}

/** A prefix length valid for some family, or a dotted IPv4 mask (the address decides which: check.ts). */
function checkNetmask(text: string): void {
  for (const family of [6, 4] as const) {
    try {
      prefixLength("netmask", text, family);
      return;
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
    }
  }
  throw new ConversionError(`expected a prefix length (0-32 for IPv4, 0-128 for IPv6) or a dotted mask such as 255.255.255.0, got "${text}"`);
}

export function convertValue(keyword: Keyword, text: string): Value {
  if (keyword.notEmpty && text.trim() === "") throw new ConversionError("must not be empty");
  const dynamic = hasPlaceholder(text);
  // The checked types below leave an empty value to resolve.ts (a required one is "empty"), as a string's would be.
  const unchecked = dynamic || text === "";
  const needsStatic = (what: string) => {
    if (dynamic) throw new ConversionError(`${what} cannot depend on the node (it would differ between nodes)`);
  };
  switch (keyword.type) {
    case "bool": {
      needsStatic("a true/false value");
      // om3's strconv.ParseBool words and opensvc's yes/no/on/off; empty is false, as om3.
      if (/^(true|yes|on|1|t|y)$/i.test(text.trim())) return true;
      if (/^(false|no|off|0|f|n|)$/i.test(text.trim())) return false;
      throw new ConversionError(`expected true or false, got "${text}"`);
    }
    case "int": {
      needsStatic("a number");
      if (!/^\d+$/.test(text.trim())) throw new ConversionError(`expected a whole number, got "${text}"`);
      const n = Number(text.trim());
      if (n > limits.int) throw new ConversionError(`${text.trim()} is more than ${limits.int}`);
      return n;
    }
    case "duration": {
      needsStatic("a duration");
      const ms = parseDuration(text);
      if (keyword.positive && ms === 0) throw new ConversionError("must be more than 0: systemd reads 0 as no timeout at all");
      return ms;
    }
    case "enum": {
      needsStatic("a choice");
      const values = keyword.values ?? [];
      if (!values.includes(text.trim())) throw new ConversionError(`expected one of ${values.join(", ")}, got "${text}"`);
      return text.trim();
    }
    case "size":
      needsStatic("a size");
      return parseSize(text);
    case "rid":
      needsStatic("a resource id");
      if (!/^[a-z]+#[A-Za-z0-9_.-]+$/.test(text.trim())) throw new ConversionError(`expected a resource id such as container#0, got "${text}"`);
      return text.trim();
    case "mode":
      needsStatic("a file mode");
      if (!/^0?[0-7]{3,4}$/.test(text.trim())) throw new ConversionError(`expected an octal mode such as 0755, got "${text}"`);
      return text.trim();
    case "list":
      return text.split(/[\s,]+/).filter((w) => w !== "");
    case "words":
      return splitWords(text);
    case "path":
      return normalisePath(text.trim());
    case "shell":
      // Split now as OpenSVC will run it, so that a bad command is a compile error.
      if (text.trim() !== "") commandArgv(text);
      return text;
    case "string":
      if (text.includes("\n")) throw new ConversionError("a line break is not allowed here");
      if (text.includes("\t")) throw new ConversionError("a tab is not allowed here");
      return text;
    // The types below may take a per-node variable: each node's own value is checked (resolve.ts).
    case "user":
      if (unchecked) return text;
      // systemd's strict rule for User=/Group= (so it loads without a warning), or a numeric id.
      if (!/^(?:[A-Za-z_][A-Za-z0-9_-]{0,30}|\d{1,10})$/.test(text) || (/^\d+$/.test(text) && Number(text) >= 4294967295)) {
        throw new ConversionError(`expected a user or group name (letters, digits, "_", "-"; at most 31) or a numeric id, got "${text}"`);
      }
      return text;
    case "ifname":
      return unchecked ? text : asRuntimeAccepts(() => interfaceName("dev", text), text, "a network interface name (at most 15 characters: letters, digits, _, . and -)");
    case "address":
      // A name whose last label is all digits ("198.51.100.300") is a mistyped address, not a host.
      if (unchecked || isIP(text) !== 0 || (isHostName(text) && !/(^|\.)\d+\.?$/.test(text))) return text;
      throw new ConversionError(`expected an IP address or a host name, got "${text}"`);
    case "ip":
      if (unchecked || isIP(text) !== 0) return text;
      throw new ConversionError(`expected an IP address, got "${text}"`);
    case "netmask":
      if (!unchecked) checkNetmask(text);
      return text;
    case "mac":
      return unchecked ? text : asRuntimeAccepts(() => macAddress("macaddr", text), text, "a MAC address such as 02:42:ac:11:00:02");
  }
}
