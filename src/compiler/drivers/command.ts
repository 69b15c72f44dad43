// Commands as OpenSVC runs them (om3 util/command commandArgsFromString, opensvc
// utilities/proc does_call_cmd_need_shell): through /bin/sh -c when the text holds `|`, `&&`
// or `;`, else split like a POSIX shell splits words and run directly (no globbing, no $VAR).
// An app's start/stop/check may also say `true` (or a sequence number): run `<script> <action>`.

import { ConversionError, splitWords } from "../convert.js";

const needsShell = /\||&&|;/;
/** What systemd accepts as the program of an Exec line without quoting surprises. */
const programPattern = /^[A-Za-z0-9_./+-]+$/;

export function commandArgv(text: string): string[] {
  if (needsShell.test(text)) return ["/bin/sh", "-c", text];
  const argv = splitWords(text);
  if (argv.length === 0) throw new ConversionError("an empty command");
  if (!programPattern.test(argv[0]) || argv[0].startsWith("-")) {
    throw new ConversionError(`the program "${argv[0]}" must be a plain name or path (letters, digits, ".", "_", "/", "+", "-"); OpenSVC runs this command without a shell`);
  }
  return argv;
}

const trueWords = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const falseWords = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** om3 resapp boolRule: a boolean, or a sequence number (two digits or more) meaning true. */
export function scriptSwitch(value: string): boolean | undefined {
  const trimmed = value.trim();
  if (trueWords.has(trimmed)) return true;
  if (falseWords.has(trimmed)) return false;
  if (/^\d{2,}$/.test(trimmed) && Number(trimmed) < 32768) return true;
  return undefined;
}

/** The argv of an app action, or undefined when the action does nothing. */
export function actionCommand(value: string | undefined, script: string | undefined, action: string): string[] | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const switched = scriptSwitch(value);
  if (switched === false) return undefined;
  if (switched === true) {
    if (script === undefined || script.trim() === "") throw new ConversionError(`"${value.trim()}" runs \`<script> ${action}\`, but script is not set`);
    return commandArgv(`${script} ${action}`);
  }
  return commandArgv(value);
}
