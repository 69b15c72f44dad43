// systemd-escape --path: the only way to name a .mount unit (systemd insists Where= matches).
// As systemd's unit_name_path_escape: "/" becomes "-", bytes other than [A-Za-z0-9:_.] become
// \xNN, and "." is escaped only as the very first character of the name (a component such as
// .hidden further in keeps its dot: systemd refuses a unit named srv-\x2ehidden.mount).

export function escapePath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, "").replace(/\/+/g, "/");
  if (trimmed === "") return "-";
  return [...Buffer.from(trimmed, "utf8")]
    .map((byte, i) => {
      const c = String.fromCharCode(byte);
      if (c === "/") return "-";
      if (/[A-Za-z0-9:_]/.test(c) || (c === "." && i > 0)) return c;
      return `\\x${byte.toString(16).padStart(2, "0")}`;
    })
    .join("");
}
