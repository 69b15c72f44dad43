// Which characters an input may carry, checked where each input enters (config values, file
// names, cluster facts, --env, per-node values), so that a message can name where it came
// from. NUL and CR end a line for systemd, LF ends one everywhere, and NEL (U+0085) and the
// Unicode line and paragraph separators end one for editors, terminals and some parsers; other
// control characters and unpaired surrogates (which UTF-8 cannot carry: they would be written
// as U+FFFD) are refused too. Tab and LF are left to the keyword's type: a shell command may
// span lines (it reaches its unit C-escaped inside one quoted argument), a path may not.

const forbidden = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udfff]/u;
const lineBreaks = /[\t\n]/;

const names: Record<string, string> = {
  "\u0000": "NUL",
  "\t": "a tab",
  "\n": "a line break (LF)",
  "\r": "a carriage return (CR)",
  "\u0085": "a next-line character (U+0085)",
  "\u2028": "a line separator (U+2028)",
  "\u2029": "a paragraph separator (U+2029)",
};

function describeCharacter(c: string): string {
  const code = c.codePointAt(0)!;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
  if (names[c]) return names[c];
  return code >= 0xd800 && code <= 0xdfff ? `an unpaired surrogate (${hex})` : `a control character (${hex})`;
}

/** Why `text` cannot be used as an input, or undefined when it can. Tab and LF are allowed. */
export function forbiddenCharacter(text: string): string | undefined {
  const m = forbidden.exec(text);
  return m ? `contains ${describeCharacter(m[0])}, which must never reach a unit file` : undefined;
}

/** As forbiddenCharacter, and tab and LF are refused too: for values that must stay on one line. */
export function notOneLine(text: string): string | undefined {
  const bad = forbiddenCharacter(text);
  if (bad) return bad;
  const m = lineBreaks.exec(text);
  return m ? `contains ${describeCharacter(m[0])}, which is not allowed here` : undefined;
}

/** Text shown in a message: every invisible or line-breaking character written as \uXXXX. */
export function visible(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]|[\ud800-\udfff]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
