// What a keyword is: its type, default, doc, status under svcc and where OpenSVC defines it.
// Driver modules declare their keywords with the builders below; the value type of each
// keyword follows from its declaration, so drivers read typed values without casts.

/** How svcc treats a keyword OpenSVC defines. */
export type KeywordStatus =
  /** svcc does what OpenSVC does with it (the doc says how). */
  | { kind: "implemented" }
  /** Accepted silently: OpenSVC's own start and stop do not read it either (provisioning, labels). */
  | { kind: "inert"; why: string }
  /** No meaning under systemd: accepted, and each compile warns once, naming it and why. */
  | { kind: "ignored"; why: string }
  /** Refused: the config is an error, with the reason. */
  | { kind: "refused"; why: string };

export type KeywordType =
  | "string" // any single-line text
  | "bool" // true/false (also yes/no, on/off, 1/0, t/f, y/n)
  | "int" // a non-negative whole number
  | "duration" // 500ms, 5s, 1m30s, 1h, 1d, or plain seconds
  | "size" // a byte count: 1024, 10k, 5MiB (powers of 1024), 2GB (powers of 1000), as om3; kept as exact decimal digits
  | "list" // words separated by spaces or commas
  | "words" // split like a POSIX shell does (quotes honoured), as OpenSVC's shlex converter
  | "shell" // a command line, run as OpenSVC runs it (see the app driver)
  | "path" // an absolute path
  | "rid" // a resource id such as container#0
  | "mode" // an octal file mode such as 0755
  | "enum" // one of `values`
  | "user" // a user or group name, or a numeric id
  | "ifname" // a network interface name
  | "address" // an IP address or a host name
  | "ip" // an IP address
  | "netmask" // a prefix length, or a dotted IPv4 mask
  | "mac"; // a MAC address

/** Where DEFAULT's value of the same keyword applies to a resource (OpenSVC's "inheritance"). */
export type Inherit =
  /** The resource's value, else DEFAULT's (OpenSVC's default: "leaf > head"). */
  | "resource-first"
  /** DEFAULT's value, else the resource's (om3 Head2Leaf: `optional`). */
  | "default-first"
  /** Only the resource's own value. */
  | "resource-only";

interface ValueTypes {
  string: string;
  bool: boolean;
  int: number;
  duration: number;
  size: string;
  list: string[];
  words: string[];
  shell: string;
  path: string;
  rid: string;
  mode: string;
  enum: string;
  user: string;
  ifname: string;
  address: string;
  ip: string;
  netmask: string;
  mac: string;
}
export type Value = ValueTypes[KeywordType];

export interface Keyword<T extends KeywordType = KeywordType> {
  name: string;
  type: T;
  doc: string;
  status: KeywordStatus;
  default?: string;
  values?: readonly string[];
  /** A status for particular values (by their converted text: "true", an enum value…). */
  valueStatus?: Readonly<Record<string, KeywordStatus>>;
  required?: boolean;
  /** The value shapes unit names or mount units, so it must be the same on every node. */
  static?: boolean;
  /** A duration that must be more than 0 (systemd reads a 0 timeout as none at all). */
  positive?: boolean;
  /** An explicit empty value is refused (it would reach a command as an empty argument). */
  notEmpty?: boolean;
  /** Other names OpenSVC accepts for it (om3 Aliases, opensvc DEPRECATED_KEYWORDS). */
  aliases?: readonly string[];
  inherit?: Inherit;
  /** A svcc keyword OpenSVC does not have. */
  svccOnly?: boolean;
}

export type KeywordOptions = Partial<Omit<Keyword, "name" | "type" | "doc">>;

/** A keyword declaration before it gets its name (the key it is declared under). */
export type KeywordDecl<T extends KeywordType = KeywordType> = Omit<Keyword<T>, "name">;
export type KeywordDecls = Readonly<Record<string, KeywordDecl>>;

const implemented: KeywordStatus = { kind: "implemented" };

function declare<T extends KeywordType>(type: T) {
  return <O extends KeywordOptions>(doc: string, options?: O): KeywordDecl<T> & O => ({ type, doc, status: implemented, ...(options as O) });
}

export const kw = {
  string: declare("string"),
  bool: declare("bool"),
  int: declare("int"),
  duration: declare("duration"),
  size: declare("size"),
  list: declare("list"),
  words: declare("words"),
  shell: declare("shell"),
  path: declare("path"),
  rid: declare("rid"),
  mode: declare("mode"),
  user: declare("user"),
  ifname: declare("ifname"),
  address: declare("address"),
  ip: declare("ip"),
  netmask: declare("netmask"),
  mac: declare("mac"),
  enum: <V extends readonly string[], O extends KeywordOptions>(values: V, doc: string, options?: O): KeywordDecl<"enum"> & O => ({ type: "enum", values, doc, status: implemented, ...(options as O) }),
};

export const inert = (why: string): KeywordStatus => ({ kind: "inert", why });
export const ignored = (why: string): KeywordStatus => ({ kind: "ignored", why });
export const refused = (why: string): KeywordStatus => ({ kind: "refused", why });

/** A valueStatus that makes the values meaning "off" inert: they ask for what svcc does anyway. */
export function whenOff(why = "off: nothing to honour"): Readonly<Record<string, KeywordStatus>> {
  return Object.fromEntries(["false", "False", "FALSE", "f", "F", "0", ""].map((v) => [v, inert(why)]));
}

/** Why provisioning keywords are inert: svcc starts and stops, it never creates storage. */
export const provisioningOnly = inert("used only by OpenSVC's provision action; svcc never creates storage or networks");

/** The typed values of a set of declarations: present when required or defaulted, else optional. */
export type ValuesOf<D extends KeywordDecls> = {
  readonly [K in keyof D]: D[K] extends { required: true } | { default: string } ? ValueTypes[D[K]["type"]] : ValueTypes[D[K]["type"]] | undefined;
};

/** Declarations → keywords with their names. */
export function named(decls: KeywordDecls): Keyword[] {
  return Object.entries(decls).map(([name, decl]) => ({ name, ...decl }));
}
