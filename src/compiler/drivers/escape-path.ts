// systemd-escape --path: the only way to name a .mount unit (systemd insists Where= matches).

export function escapePath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, "").replace(/\/+/g, "/");
  if (trimmed === "") return "-";
  return trimmed
    .split("/")
    .map((part) =>
      [...Buffer.from(part, "utf8")]
        .map((byte, i) => {
          const c = String.fromCharCode(byte);
          if (/[A-Za-z0-9:_]/.test(c) || (c === "." && i > 0)) return c;
          return `\\x${byte.toString(16).padStart(2, "0")}`;
        })
        .join(""),
    )
    .join("-");
}
