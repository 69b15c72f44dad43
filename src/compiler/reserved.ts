// Names a service may not take and mount points it may not use, because systemd or the OS own
// them: a service named `default` would write default.target (and be started at boot), one
// mounted on /tmp would write tmp.mount over the distribution's.

/**
 * The special units of systemd.special(7) (systemd 252, plus names later versions added) that
 * svcc could write: `<svc>.target` (its other units are `<svc>-<something>.service`, and
 * names starting with "systemd" are refused below).
 */
const specialTargets = new Set([
  "basic", "blockdev", "bluetooth", "boot-complete", "cryptsetup-pre", "cryptsetup", "ctrl-alt-del", "default", "emergency",
  "exit", "factory-reset", "final", "first-boot-complete", "getty-pre", "getty", "graphical-session-pre", "graphical-session",
  "graphical", "halt", "hibernate", "hybrid-sleep", "initrd-fs", "initrd-root-device", "initrd-root-fs", "initrd-usr-fs",
  "initrd", "initrd-switch-root", "integritysetup-pre", "integritysetup", "kbrequest", "kexec", "local-fs-pre", "local-fs",
  "machines", "multi-user", "network-online", "network-pre", "network", "nss-lookup", "nss-user-lookup", "paths", "poweroff",
  "printer", "reboot", "remote-cryptsetup", "remote-fs-pre", "remote-fs", "remote-veritysetup", "rescue", "rpcbind",
  "runlevel0", "runlevel1", "runlevel2", "runlevel3", "runlevel4", "runlevel5", "runlevel6", "shutdown", "sigpwr",
  "single-user", "sleep", "slices", "smartcard", "sockets", "sound", "suspend-then-hibernate", "suspend", "swap", "sysinit",
  "system-update-pre", "system-update", "time-set", "time-sync", "timers", "umount", "usb-gadget", "veritysetup-pre",
  "veritysetup", "xdg-desktop-autostart", "soft-reboot", "tpm2", "imports", "imports-pre", "ssh-access", "storage-target-mode",
  "factory-reset-now", "sysinit-pre", "hibernate-resume",
]);

/** Why a service name cannot be used, or undefined. */
export function reservedServiceName(name: string): string | undefined {
  if (specialTargets.has(name)) return `${name}.target is one of systemd's special units (systemd.special(7)): svcc would write over it`;
  if (name === "systemd" || name.startsWith("systemd-")) return `names starting with "systemd" belong to systemd's own units`;
  return undefined;
}

/** Mount points the OS itself mounts or relies on: a service mount there would shadow them. */
const systemMountPoints = new Set([
  "/", "/bin", "/boot", "/boot/efi", "/dev", "/efi", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt",
  "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var", "/var/cache", "/var/lib",
  "/var/log", "/var/spool", "/var/tmp",
]);
/** API and boot filesystems: nothing of a service belongs anywhere below them. */
const systemTrees = ["/proc/", "/sys/", "/dev/", "/run/", "/boot/", "/efi/"];

/** Why a (normalised, absolute) mount point cannot be used, or undefined. */
export function reservedMountPoint(path: string): string | undefined {
  if (systemMountPoints.has(path)) return `${path} is a system mount point: a service mount there would shadow it (mount below it, e.g. ${path === "/" ? "" : path}/<service>/data)`;
  const tree = systemTrees.find((t) => path.startsWith(t));
  if (tree) return `${path} is inside ${tree.slice(0, -1)}, which the kernel, systemd or the boot loader own`;
  return undefined;
}
