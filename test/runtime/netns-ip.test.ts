import { describe, expect, it } from "vitest";
import { firstFreeEth, temporaryNames } from "../../src/runtime/netns-ip.js";
import { containerNetns, fakeHost, FakeRunner, hostNetns, ipAddrJson, runAction } from "./fakes.js";

const PID = 25524;
const ADDR = "198.51.100.14";
const { hostEnd: H, guest: G } = temporaryNames(PID, ADDR);
const ns = (cmd: string) => `nsenter -t ${PID} -n ${cmd}`;
const inspect = (engine = "docker", name = "db1.container.0") => `${engine} container inspect -f {{json .State}} ${name}`;
const running = { stdout: JSON.stringify({ Status: "running", Running: true, Pid: PID, ExitCode: 0, Error: "" }) };
const onlyLo = { stdout: ipAddrJson({ lo: ["127.0.0.1/8"] }) };
const garpSent = { exitCode: 0 }; // started (the runner's detach option)

function docker(mode: string, ...extra: string[]): string[] {
  return ["--engine", "docker", "--container", "db1.container.0", "--mode", mode, "--dev", "br-prd", "--addr", ADDR, "--netmask", "24", ...extra];
}

/** Each command as run, a batch (`ip -batch -`) as one line per command it was given, with the same prefix. */
function commands(runner: FakeRunner): string[] {
  return runner.calls.flatMap((c) => {
    if (!c.line.endsWith("ip -batch -")) return [c.line];
    const prefix = c.line.slice(0, -"ip -batch -".length);
    return (c.opts?.input ?? "").trim().split("\n").map((l) => `${prefix}ip ${l}`);
  });
}

/** A batch that fails at the command containing `text` (ip's own way of saying which), else succeeds. */
function failAt(text: string, stderr: string) {
  return (call: { opts?: { input?: string } }) => {
    const n = (call.opts?.input ?? "").split("\n").findIndex((l) => l.includes(text));
    return n < 0 ? {} : { exitCode: 1, stderr: `${stderr}Command failed -:${n + 1}\n` };
  };
}

function plumbing(): FakeRunner {
  return new FakeRunner()
    .on(inspect(), running)
    .on(ns("ip -j addr show"), onlyLo)
    .on("ip -j link show dev br-prd", { stdout: JSON.stringify([{ ifname: "br-prd", mtu: 9000 }]) })
    .on(/arping -U/, garpSent);
}

describe("netns-ip-start", () => {
  it("names its temporary interfaces after the PID and the address, within IFNAMSIZ", () => {
    expect(H).toMatch(/^sv25524h[0-9a-f]{4}$/);
    expect(G).toBe(H.replace("h", "g"));
    const long = temporaryNames(4_194_304, "198.51.100.254");
    expect(long.hostEnd.length).toBeLessThanOrEqual(15);
    expect(temporaryNames(PID, "198.51.100.15").hostEnd).not.toBe(H);
  });

  it("bridge: veth pair at the bridge's MTU, host end in the bridge, peer moved in, renamed, addressed, routed, announced", async () => {
    const runner = plumbing();
    const { code, stderr } = await runAction(["netns-ip-start", ...docker("bridge", "--gateway", "198.51.100.1")], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([inspect(), ns("ip -j addr show"), "ip -j link show dev br-prd", "ip -batch -", ns("ip -batch -"), ns(`arping -U -c 1 -w 1 -I eth0 ${ADDR}`)]);
    expect(commands(runner)).toEqual([
      inspect(),
      ns("ip -j addr show"),
      "ip -j link show dev br-prd",
      `ip link add name ${H} mtu 9000 type veth peer name ${G} mtu 9000`,
      `ip link set ${H} master br-prd`,
      `ip link set ${H} up`,
      `ip link set ${G} netns ${PID}`,
      ns(`ip link set ${G} name eth0`),
      ns(`ip addr add ${ADDR}/24 dev eth0`),
      ns("ip link set eth0 up"),
      ns("ip route replace default via 198.51.100.1 dev eth0"),
      ns(`arping -U -c 1 -w 1 -I eth0 ${ADDR}`),
    ]);
    expect(stderr).toContain(`svcc res netns-ip-start ${ADDR}: ${ADDR}/24 on eth0 (bridge on br-prd) in the namespace of container db1.container.0 (pid ${PID})`);
  });

  it("macvlan with nsdev, MAC address and the subnet route deleted after the default route: made in the namespace, the rest in one batch there", async () => {
    const runner = plumbing();
    const { code } = await runAction(["netns-ip-start", ...docker("macvlan", "--gateway", "198.51.100.1", "--nsdev", "svc0", "--macaddr", "02:42:C6:33:64:0E", "--del-net-route")], runner);
    expect(code).toBe(0);
    expect(runner.lines).toHaveLength(5);
    expect(commands(runner)).toEqual([
      inspect(),
      ns("ip -j addr show"),
      `ip link add link br-prd name svc0 netns ${PID} type macvlan mode bridge`,
      ns("ip link set svc0 address 02:42:c6:33:64:0e"),
      ns(`ip addr add ${ADDR}/24 dev svc0`),
      ns("ip link set svc0 up"),
      ns("ip route replace default via 198.51.100.1 dev svc0"),
      ns("ip route del 198.51.100.0/24 dev svc0"),
      ns(`arping -U -c 1 -w 1 -I svc0 ${ADDR}`),
    ]);
  });

  it("ipvlan-l2 (the seed's db1)", async () => {
    const runner = plumbing();
    expect((await runAction(["netns-ip-start", ...docker("ipvlan-l2")], runner)).code).toBe(0);
    expect(commands(runner)).toEqual([
      inspect(),
      ns("ip -j addr show"),
      `ip link add link br-prd name eth0 netns ${PID} type ipvlan mode l2`,
      ns(`ip addr add ${ADDR}/24 dev eth0`),
      ns("ip link set eth0 up"),
      ns(`arping -U -c 1 -w 1 -I eth0 ${ADDR}`),
    ]);
  });

  it("ipvlan-l3 sends no ARP (the mode has none)", async () => {
    const runner = plumbing();
    expect((await runAction(["netns-ip-start", ...docker("ipvlan-l3", "--gateway", "198.51.100.1")], runner)).code).toBe(0);
    expect(commands(runner)).toEqual([
      inspect(),
      ns("ip -j addr show"),
      `ip link add link br-prd name eth0 netns ${PID} type ipvlan mode l3`,
      ns(`ip addr add ${ADDR}/24 dev eth0`),
      ns("ip link set eth0 up"),
      ns("ip route replace default via 198.51.100.1 dev eth0"),
    ]);
  });

  it("podman containers are inspected with podman", async () => {
    const runner = plumbing().on(inspect("podman"), running);
    const argv = docker("macvlan");
    argv[1] = "podman";
    expect((await runAction(["netns-ip-start", ...argv], runner)).code).toBe(0);
    expect(runner.lines[0]).toBe(inspect("podman"));
  });

  it("picks the first free ethN", async () => {
    expect(firstFreeEth([{ ifname: "lo", addresses: [] }, { ifname: "eth0", addresses: [] }, { ifname: "eth2", addresses: [] }])).toBe("eth1");
    const runner = plumbing().on(ns("ip -j addr show"), { stdout: ipAddrJson({ lo: [], eth0: ["172.17.0.2/16"] }) });
    await runAction(["netns-ip-start", ...docker("macvlan")], runner);
    expect(runner.lines).toContain(`ip link add link br-prd name eth1 netns ${PID} type macvlan mode bridge`);
  });

  it("is idempotent: an address already plumbed in the namespace is fine, nothing is created", async () => {
    const runner = plumbing().on(ns("ip -j addr show"), { stdout: ipAddrJson({ lo: ["127.0.0.1/8"], eth0: [`${ADDR}/24`] }) });
    const { code, stderr } = await runAction(["netns-ip-start", ...docker("bridge")], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([inspect(), ns("ip -j addr show")]);
    expect(stderr).toContain("already on eth0");
  });

  it("refuses an nsdev that already exists, before creating anything", async () => {
    const runner = plumbing().on(ns("ip -j addr show"), { stdout: ipAddrJson({ lo: [], eth0: [] }) });
    const { code, stderr } = await runAction(["netns-ip-start", ...docker("bridge", "--nsdev", "eth0")], runner);
    expect(code).toBe(1);
    expect(runner.lines).toEqual([inspect(), ns("ip -j addr show")]);
    expect(stderr).toContain("eth0 already exists");
  });

  it("fails when the container is not running, without touching anything", async () => {
    const runner = new FakeRunner().on(inspect(), { stdout: JSON.stringify({ Status: "exited", Running: false, Pid: 0, ExitCode: 137, Error: "" }) });
    const { code, stderr } = await runAction(["netns-ip-start", ...docker("bridge")], runner);
    expect(code).toBe(1);
    expect(runner.lines).toEqual([inspect()]);
    expect(stderr).toContain("container db1.container.0 is not running (status exited, exit code 137)");
  });

  it("refuses a container that shares the host's network namespace (--net=host)", async () => {
    const runner = plumbing();
    const host = fakeHost({ netns: { self: hostNetns, [PID]: hostNetns } });
    const { code, stderr } = await runAction(["netns-ip-start", ...docker("macvlan")], runner, host);
    expect(code).toBe(1);
    expect(runner.lines).toEqual([inspect()]);
    expect(stderr).toContain("shares this host's network namespace");
  });

  it("bridge: a failed address add deletes the veth pair (by its host end), nothing half-done", async () => {
    const runner = plumbing().on(ns("ip -batch -"), failAt("addr add", "Error: any valid prefix is expected rather than \"x\".\n"));
    const { code, stderr } = await runAction(["netns-ip-start", ...docker("bridge")], runner);
    expect(code).toBe(1);
    expect(runner.lines.slice(-2)).toEqual([ns("ip -batch -"), `ip link del dev ${H}`]);
    expect(stderr).toContain(`\`nsenter -t ${PID} -n ip addr add ${ADDR}/24 dev eth0\` failed (exit 1): Error: any valid prefix is expected`);
    expect(stderr).toContain(`removed the half-made interface ${H}`);
    expect(stderr).toContain(`cannot add ${ADDR}/24 to eth0`);
  });

  it("macvlan: a failed creation leaves nothing to remove; any failure inside the namespace removes the interface there", async () => {
    const creation = plumbing().on(/^ip link add/, { exitCode: 2, stderr: "RTNETLINK answers: Invalid argument\n" });
    expect((await runAction(["netns-ip-start", ...docker("macvlan")], creation)).code).toBe(1);
    expect(creation.lines.some((l) => l.includes("link del"))).toBe(false);

    const address = plumbing().on(ns("ip -batch -"), failAt("addr add", "RTNETLINK answers: Permission denied\n"));
    const a = await runAction(["netns-ip-start", ...docker("macvlan")], address);
    expect(a.code).toBe(1);
    expect(address.lines.slice(-1)).toEqual([ns("ip link del dev eth0")]);
    expect(a.stderr).toContain(`cannot add ${ADDR}/24 to eth0`);

    const route = plumbing().on(ns("ip -batch -"), failAt("route replace default", "Error: Nexthop has invalid gateway.\n"));
    const r = await runAction(["netns-ip-start", ...docker("ipvlan-l2", "--gateway", "198.51.100.1")], route);
    expect(r.code).toBe(1);
    expect(route.lines.slice(-1)).toEqual([ns("ip link del dev eth0")]);
    expect(r.stderr).toContain("cannot set the default route via 198.51.100.1");
  });

  it("bridge: a failure on the host after the pair exists removes it; a failed creation removes nothing", async () => {
    const attach = plumbing().on("ip -batch -", failAt("master", "Error: argument \"br-prd\" is wrong: Device does not exist\n"));
    const a = await runAction(["netns-ip-start", ...docker("bridge")], attach);
    expect(a.code).toBe(1);
    expect(attach.lines.slice(-1)).toEqual([`ip link del dev ${H}`]);
    expect(a.stderr).toContain(`cannot attach ${H} to bridge br-prd`);

    const creation = plumbing().on("ip -batch -", failAt("type veth", "RTNETLINK answers: File exists\n"));
    expect((await runAction(["netns-ip-start", ...docker("bridge")], creation)).code).toBe(1);
    expect(creation.lines.some((l) => l.includes("link del"))).toBe(false);
  });

  it("a failed creation leaves nothing to clean (and never deletes an interface it did not make)", async () => {
    const runner = plumbing().on(/^ip link add/, { exitCode: 2, stderr: "RTNETLINK answers: File exists\n" }).on("ip -batch -", failAt("link add", "RTNETLINK answers: File exists\n"));
    const { code } = await runAction(["netns-ip-start", ...docker("bridge")], runner);
    expect(code).toBe(1);
    expect(runner.lines.some((l) => l.includes("link del"))).toBe(false);
  });

  it("says so when even the cleanup fails", async () => {
    const runner = plumbing()
      .on(ns("ip -batch -"), failAt("addr add", "nope\n"))
      .on(`ip link del dev ${H}`, { exitCode: 1, stderr: "Cannot find device\n" });
    const { code, stderr } = await runAction(["netns-ip-start", ...docker("bridge")], runner);
    expect(code).toBe(1);
    expect(stderr).toContain(`warning: could not remove the half-made interface ${H}`);
  });

  it("--pid names the namespace owner directly", async () => {
    const runner = plumbing();
    const argv = ["--pid", String(PID), "--mode", "macvlan", "--dev", "dummy0", "--addr", ADDR, "--netmask", "24"];
    const { code } = await runAction(["netns-ip-start", ...argv], runner);
    expect(code).toBe(0);
    expect(runner.lines[0]).toBe(ns("ip -j addr show"));
    const gone = await runAction(["netns-ip-start", ...argv], new FakeRunner(), fakeHost({ netns: { self: hostNetns, [PID]: undefined } }));
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`process ${PID} does not exist`);
  });

  it("finds a container of the service's private docker daemon through its socket (--host)", async () => {
    const sock = "unix:///run/svcc-docker/0123456789abcdef/docker.sock";
    const onPrivate = `docker -H ${sock} container inspect -f {{json .State}} db1.container.0`;
    const runner = plumbing().on(onPrivate, running);
    const argv = ["--engine", "docker", "--host", sock, "--container", "db1.container.0", "--mode", "ipvlan-l2", "--dev", "br-prd", "--addr", ADDR, "--netmask", "24"];
    expect((await runAction(["netns-ip-start", ...argv], runner)).code).toBe(0);
    expect(runner.lines[0]).toBe(onPrivate);
    expect(runner.lines).not.toContain(inspect());
  });

  it.each([
    [["--pid", "12", "--host", "unix:///run/x.sock", "--mode", "bridge", "--dev", "br0", "--addr", ADDR, "--netmask", "24"]],
    [["--mode", "bridge", "--dev", "br0", "--addr", ADDR, "--netmask", "24"]],
    [["--pid", "12", "--engine", "docker", "--container", "c", "--mode", "bridge", "--dev", "br0", "--addr", ADDR, "--netmask", "24"]],
    [["--engine", "lxc", "--container", "c", "--mode", "bridge", "--dev", "br0", "--addr", ADDR, "--netmask", "24"]],
    [["--engine", "docker", "--container", "c", "--mode", "dedicated", "--dev", "br0", "--addr", ADDR, "--netmask", "24"]],
    [["--engine", "docker", "--container", "c", "--mode", "bridge", "--addr", ADDR, "--netmask", "24"]],
    [["--engine", "docker", "--container", "c", "--mode", "bridge", "--dev", "br0", "--addr", ADDR, "--netmask", "24", "--macaddr", "zz"]],
    [["--engine", "docker", "--container", "c", "--mode", "bridge", "--dev", "br0", "--addr", ADDR, "--netmask", "24", "--gateway", "gw.example"]],
    [["--engine", "docker", "--container", "-c", "--mode", "bridge", "--dev", "br0", "--addr", ADDR, "--netmask", "24"]],
  ])("netns-ip-start %j is a usage error", async (argv) => {
    const { code, runner } = await runAction(["netns-ip-start", ...argv]);
    expect(code).toBe(2);
    expect(runner.calls).toEqual([]);
  });
});

describe("netns-ip-stop", () => {
  it("deletes the interface carrying the address inside the namespace", async () => {
    const runner = new FakeRunner().on(inspect(), running).on(ns("ip -j addr show"), { stdout: ipAddrJson({ lo: ["127.0.0.1/8"], eth0: [`${ADDR}/24`] }) });
    const { code } = await runAction(["netns-ip-stop", ...docker("bridge")], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([inspect(), ns("ip -j addr show"), ns("ip link del dev eth0")]);
  });

  it("is idempotent: address not there", async () => {
    const runner = new FakeRunner().on(inspect(), running).on(ns("ip -j addr show"), onlyLo);
    expect((await runAction(["netns-ip-stop", ...docker("bridge")], runner)).code).toBe(0);
    expect(runner.lines).toEqual([inspect(), ns("ip -j addr show")]);
  });

  it("succeeds when the container is gone or stopped: its namespace went with it", async () => {
    const missing = new FakeRunner().on(inspect(), { exitCode: 1, stderr: "Error response from daemon: No such container: db1.container.0\n" });
    expect((await runAction(["netns-ip-stop", ...docker("bridge")], missing)).code).toBe(0);
    expect(missing.lines).toEqual([inspect()]);
    const podmanMissing = new FakeRunner().on(inspect("podman"), { exitCode: 125, stderr: 'Error: no such container "db1.container.0"\n' });
    const argv = docker("bridge");
    argv[1] = "podman";
    expect((await runAction(["netns-ip-stop", ...argv], podmanMissing)).code).toBe(0);
    const stopped = new FakeRunner().on(inspect(), { stdout: JSON.stringify({ Status: "exited", Running: false, Pid: 0, ExitCode: 0 }) });
    expect((await runAction(["netns-ip-stop", ...docker("bridge")], stopped)).code).toBe(0);
    expect(stopped.lines).toEqual([inspect()]);
  });

  it("fails when the engine cannot be asked (the container may still run with the address)", async () => {
    const runner = new FakeRunner().on(inspect(), { exitCode: 1, stderr: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n" });
    const { code, stderr } = await runAction(["netns-ip-stop", ...docker("bridge")], runner);
    expect(code).toBe(1);
    expect(stderr).toContain("Cannot connect to the Docker daemon");
  });

  it("never touches the host's interfaces through a --net=host container", async () => {
    const runner = new FakeRunner().on(inspect(), running);
    const host = fakeHost({ netns: { self: hostNetns, [PID]: hostNetns } });
    expect((await runAction(["netns-ip-stop", ...docker("bridge")], runner, host)).code).toBe(0);
    expect(runner.lines).toEqual([inspect()]);
  });

  it("removes only the address when it sits on lo", async () => {
    const runner = new FakeRunner().on(inspect(), running).on(ns("ip -j addr show"), { stdout: ipAddrJson({ lo: ["127.0.0.1/8", `${ADDR}/32`] }) });
    expect((await runAction(["netns-ip-stop", ...docker("bridge")], runner)).code).toBe(0);
    expect(runner.lines.at(-1)).toBe(ns(`ip addr del ${ADDR}/32 dev lo`));
  });

  it("needs only the owner, the address and the netmask", async () => {
    const runner = new FakeRunner().on(ns("ip -j addr show"), onlyLo);
    const host = fakeHost({ netns: { self: hostNetns, [PID]: containerNetns } });
    expect((await runAction(["netns-ip-stop", "--pid", String(PID), "--addr", ADDR, "--netmask", "24"], runner, host)).code).toBe(0);
  });
});
