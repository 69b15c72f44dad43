// configs_environment / secrets_environment items, read as om3 reads them (util/envprovider
// envVars): `<VAR>=<object>/<key path>` sets VAR to that key's value; `<object>/<key matcher>`
// sets one variable per matching key, named by the key; `[]` is nothing. Where om3 drops an item
// silently (`VAR=<no "/">`, more than one "="), svcc drops it too and the compile warns; where om3
// would crash (a matcher without "/") or svcc could not name a path, it refuses the item.
// Shared by the compiler (checks each item) and the runtime helper (reads the store).

export type StoreKind = "cfg" | "sec";

export type StoreItem =
  | { variable: string; object: string; key: string }
  | { object: string; matcher: string }
  /** An item om3 reads as nothing (util/envprovider envVars returns no variable for it). */
  | { ignored: string };

const variablePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
const objectPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** A key path (or matcher) inside an object: relative, no empty, "." or ".." component, nothing unprintable. */
function badKeyPath(path: string): string | undefined {
  if (path === "") return "is empty";
  if (/[\u0000-\u001f\u007f]/.test(path)) return "holds a control character";
  if (path.split("/").some((c) => c === "" || c === "." || c === "..")) return 'has an empty, "." or ".." component';
  return undefined;
}

/** The item, or undefined for om3's empty list `[]`; throws an Error whose message says what is wrong. */
export function parseStoreItem(word: string): StoreItem | undefined {
  if (word === "[]") return undefined;
  const parts = word.split("=");
  if (parts.length > 2) return { ignored: `"${word}" holds more than one "=": OpenSVC sets no variable for it (om3 util/envprovider), nor does svcc` };
  const [variable, reference] = parts.length === 2 ? parts : [undefined, parts[0]];
  const slash = reference.indexOf("/");
  if (slash < 0 && variable !== undefined) return { ignored: `"${word}" names no key (<object>/<key>): OpenSVC sets no variable for it (om3 util/envprovider), nor does svcc` };
  if (slash < 0) throw new Error(`"${word}": expected <object>/<key matcher> (om3 fails on it)`);
  const [object, path] = [reference.slice(0, slash), reference.slice(slash + 1)];
  if (!objectPattern.test(object) || object.length > 255) throw new Error(`"${word}": "${object}" is not an object name (letters, digits, "_", ".", "-")`);
  const bad = badKeyPath(path);
  if (bad) throw new Error(`"${word}": the key ${variable === undefined ? "matcher " : ""}${bad}`);
  if (variable === undefined) return { object, matcher: path };
  if (!variablePattern.test(variable)) throw new Error(`"${word}": "${variable}" is not an environment variable name`);
  return { variable, object, key: path };
}

/**
 * om3's key matcher (fnmatch with FNM_PATHNAME | FNM_LEADING_DIR): `*` and `?` stop at "/",
 * `[...]` is a class, and a pattern that matches a leading directory matches the keys below it.
 */
export function keyMatcher(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        const body = pattern.slice(i + 1, end);
        const negated = body.startsWith("!") || body.startsWith("^");
        re += `(?!/)[${negated ? "^" : ""}${(negated ? body.slice(1) : body).replace(/[\\\]^]/g, "\\$&")}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < pattern.length) re += pattern[++i].replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}(?:/.*)?$`, "s");
}
