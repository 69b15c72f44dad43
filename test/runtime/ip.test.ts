import { describe, expect, it } from "vitest";
import { prefixLength, sameAddress, subnetOf } from "../../src/runtime/address.js";
import { fakeHost, FakeRunner, ipAddrJson, runAction } from "./fakes.js";

const free = { exitCode: 0, timedOut: true, stdout: "ARPING 198.51.100.14 from 0.0.0.0 br0\nSent 1 probes (1 broadcast(s))\nReceived 0 response(s)\n" };
const answered = {
  exitCode: 1,
  stdout: "ARPING 198.51.100.14 from 0.0.0.0 br0\nUnicast reply from 198.51.100.14 [52:54:00:12:34:56]  0.612ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)\n",
};
const probe = (addr: string, dev = "br0") => `arping -D -c 1 -w 1 -I ${dev} ${addr}`;

describe("ip-check-free", () => {
  it("a free address: 3 probes 50 ms apart by default, each ended by us, all ending 150 ms after the first", async () => {
    const runner = new FakeRunner().on(/^arping -D/, free);
    const { code, stderr, elapsedMs } = await runAction(["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14"], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([probe("198.51.100.14"), probe("198.51.100.14"), probe("198.51.100.14")]);
    expect(runner.calls.map((c) => c.opts?.timeoutMs)).toEqual([150, 100, 50]);
    expect(runner.calls.every((c) => c.opts?.killSignal === "SIGTERM")).toBe(true);
    expect(elapsedMs).toBe(100);
    expect(stderr).toContain("svcc res ip-check-free 198.51.100.14: free: no answer to 3 probe(s) 50 ms apart on br0");
  });

  it("an address in use: exit 1 naming the address and who answered; later probes are not sent", async () => {
    const runner = new FakeRunner().on(/^arping -D/, answered);
    const { code, stderr } = await runAction(["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14"], runner);
    expect(code).toBe(1);
    expect(runner.lines).toEqual([probe("198.51.100.14")]);
    expect(stderr).toContain("198.51.100.14 is already in use on the network of br0 (answered by 52:54:00:12:34:56)");
  });

  it("a reply to a later probe ends the probes still running", async () => {
    let aborted: AbortSignal | undefined;
    const runner = new FakeRunner().on(/^arping -D/, (call) => ((aborted = call.opts?.signal), free), answered);
    const { code } = await runAction(["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14"], runner);
    expect(code).toBe(1);
    expect(aborted?.aborted).toBe(true);
  });

  it("several addresses are probed together; the one in use is named", async () => {
    const runner = new FakeRunner().on(/^arping -D/, free).on(/198\.51\.100\.15$/, answered);
    const { code, stderr } = await runAction(["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14", "--addr", "198.51.100.15"], runner);
    expect(code).toBe(1);
    expect(stderr).toContain("198.51.100.15 is already in use");
    expect(stderr).not.toContain("198.51.100.14 is already in use");
  });

  it("cannot tell (exit 3) when arping cannot probe: a missing device is not a free address", async () => {
    const runner = new FakeRunner().on(/^arping -D/, { exitCode: 2, stderr: "arping: Device br9 not available.\n" });
    const { code, stderr } = await runAction(["ip-check-free", "--dev", "br9", "--addr", "198.51.100.14"], runner);
    expect(code).toBe(3);
    expect(stderr).toContain("cannot tell whether 198.51.100.14 is free on br9: arping failed (exit 2): arping: Device br9 not available.");
  });

  it("cannot tell (exit 3) when arping is not installed", async () => {
    const runner = new FakeRunner().on(/^arping -D/, { exitCode: 127, stderr: "spawn arping ENOENT" });
    expect((await runAction(["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14"], runner)).code).toBe(3);
  });

  it("a probe ended before arping could send it is probed again with arping's own bound, not counted as unanswered", async () => {
    const runner = new FakeRunner().on(/^arping -D/, free, free, { exitCode: 143, timedOut: true, stdout: "" }, free);
    const { code } = await runAction(["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14"], runner);
    expect(code).toBe(0);
    expect(runner.calls.map((c) => c.opts?.timeoutMs)).toEqual([150, 100, 50, 1_500]);
  });

  it("takes --probes and --interval-ms", async () => {
    const runner = new FakeRunner().on(/^arping -D/, free);
    const { code } = await runAction(["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14", "--probes", "5", "--interval-ms", "50"], runner);
    expect(code).toBe(0);
    expect(runner.calls.map((c) => c.opts?.timeoutMs)).toEqual([250, 200, 150, 100, 50]);
  });

  it("resolves a host name and leaves IPv6 addresses to the kernel's own detection", async () => {
    const runner = new FakeRunner().on(/^arping -D/, free);
    const host = fakeHost({ names: { "db1.example.com": "198.51.100.14" } });
    const { code, stderr } = await runAction(["ip-check-free", "--dev", "br0", "--addr", "db1.example.com", "--addr", "2001:db8::14"], runner, host);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([probe("198.51.100.14"), probe("198.51.100.14"), probe("198.51.100.14")]);
    expect(stderr).toContain("2001:db8::14: not probed");
  });

  it.each([
    [["ip-check-free", "--dev", "br0"]],
    [["ip-check-free", "--addr", "198.51.100.14"]],
    [["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14", "--probes", "0"]],
    [["ip-check-free", "--dev", "br0", "--addr", "198.51.100.14", "--interval-ms", "fast"]],
    [["ip-check-free", "--dev", "br0", "--addr", "-I"]],
    [["ip-check-free", "--dev", "br0", "--addr", "not an address"]],
  ])("%j is a usage error", async (argv) => {
    const { code, runner } = await runAction(argv);
    expect(code).toBe(2);
    expect(runner.calls).toEqual([]);
  });
});

const garp = (addr: string, dev: string) => `arping -U -c 1 -w 1 -I ${dev} ${addr}`;
const garpSent = { exitCode: 0 }; // started (the runner's detach option)

describe("ip-start / ip-stop (host address)", () => {
  const args = ["--dev", "eth1", "--addr", "198.51.100.14", "--netmask", "24"];

  it("adds the address, then sends one gratuitous ARP without waiting for arping to end", async () => {
    const runner = new FakeRunner().on(/^arping -U/, garpSent);
    const { code, stderr } = await runAction(["ip-start", ...args], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual(["ip addr add 198.51.100.14/24 dev eth1", garp("198.51.100.14", "eth1")]);
    expect(runner.calls[1].opts?.detach).toBe(true);
    expect(stderr).toContain("gratuitous ARP for 198.51.100.14 on eth1: handed to arping in the background");
    expect(stderr).toContain("svcc res ip-start 198.51.100.14: 198.51.100.14/24 added to eth1");
  });

  it("is idempotent: an address already there is fine", async () => {
    const runner = new FakeRunner()
      .on("ip addr add 198.51.100.14/24 dev eth1", { exitCode: 2, stderr: "Error: ipv4: Address already assigned.\n" })
      .on("ip -j addr show dev eth1", { stdout: ipAddrJson({ eth1: ["10.0.0.5/24", "198.51.100.14/24"] }) });
    const { code } = await runAction(["ip-start", ...args], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual(["ip addr add 198.51.100.14/24 dev eth1", "ip -j addr show dev eth1", garp("198.51.100.14", "eth1")]);
  });

  it("fails with ip's message when the address cannot be added", async () => {
    const runner = new FakeRunner()
      .on("ip addr add 198.51.100.14/24 dev eth1", { exitCode: 1, stderr: 'Cannot find device "eth1"\n' })
      .on("ip -j addr show dev eth1", { exitCode: 1, stderr: 'Device "eth1" does not exist.\n' });
    const { code, stderr } = await runAction(["ip-start", ...args], runner);
    expect(code).toBe(1);
    expect(stderr).toContain('cannot add 198.51.100.14/24 to eth1: `ip addr add 198.51.100.14/24 dev eth1` failed (exit 1): Cannot find device "eth1"');
    expect(runner.lines.some((l) => l.startsWith("arping"))).toBe(false);
  });

  it("an announcement that cannot be sent is a warning, not a failed start", async () => {
    const runner = new FakeRunner().on(/^arping -U/, { exitCode: 127, stderr: "cannot run arping: spawn arping ENOENT" });
    const { code, stderr } = await runAction(["ip-start", ...args], runner);
    expect(code).toBe(0);
    expect(stderr).toContain("warning: gratuitous ARP for 198.51.100.14 on eth1 not sent (cannot run arping: spawn arping ENOENT)");
  });

  it("takes a dotted netmask, a host name, and --alias for compatibility", async () => {
    const runner = new FakeRunner().on(/^arping -U/, garpSent);
    const host = fakeHost({ names: { "db1-vip": "198.51.100.14" } });
    const { code } = await runAction(["ip-start", "--dev", "eth1", "--addr", "db1-vip", "--netmask", "255.255.255.0", "--alias"], runner, host);
    expect(code).toBe(0);
    expect(runner.lines[0]).toBe("ip addr add 198.51.100.14/24 dev eth1");
  });

  it("sends no ARP for an IPv6 address", async () => {
    const runner = new FakeRunner();
    await runAction(["ip-start", "--dev", "eth1", "--addr", "2001:db8::14", "--netmask", "64"], runner);
    expect(runner.lines).toEqual(["ip addr add 2001:db8::14/64 dev eth1"]);
  });

  it("stop removes the address", async () => {
    const runner = new FakeRunner();
    const { code } = await runAction(["ip-stop", ...args], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual(["ip addr del 198.51.100.14/24 dev eth1"]);
  });

  it("stop is idempotent: an absent address or device is fine", async () => {
    const absent = new FakeRunner()
      .on("ip addr del 198.51.100.14/24 dev eth1", { exitCode: 2, stderr: "RTNETLINK answers: Cannot assign requested address\n" })
      .on("ip -j addr show dev eth1", { stdout: ipAddrJson({ eth1: ["10.0.0.5/24"] }) });
    expect((await runAction(["ip-stop", ...args], absent)).code).toBe(0);
    const noDevice = new FakeRunner()
      .on("ip addr del 198.51.100.14/24 dev eth1", { exitCode: 1, stderr: 'Cannot find device "eth1"\n' })
      .on("ip -j addr show dev eth1", { exitCode: 1, stderr: 'Device "eth1" does not exist.\n' });
    expect((await runAction(["ip-stop", ...args], noDevice)).code).toBe(0);
  });

  it("stop fails when the address is there and cannot be removed", async () => {
    const runner = new FakeRunner()
      .on("ip addr del 198.51.100.14/24 dev eth1", { exitCode: 2, stderr: "RTNETLINK answers: Operation not permitted\n" })
      .on("ip -j addr show dev eth1", { stdout: ipAddrJson({ eth1: ["198.51.100.14/24"] }) });
    const { code, stderr } = await runAction(["ip-stop", ...args], runner);
    expect(code).toBe(1);
    expect(stderr).toContain("Operation not permitted");
  });

  it("without a netmask, takes the prefix of the device's address in the same subnet (om3), else its first one", async () => {
    const runner = new FakeRunner().on("ip -j addr show dev eth1", { stdout: ipAddrJson({ eth1: ["192.0.2.9/28", "198.51.100.2/26"] }) }).on(/^arping -U/, garpSent);
    expect((await runAction(["ip-start", "--dev", "eth1", "--addr", "198.51.100.14"], runner)).code).toBe(0);
    expect(runner.lines.slice(0, 2)).toEqual(["ip -j addr show dev eth1", "ip addr add 198.51.100.14/26 dev eth1"]);
    const other = new FakeRunner().on("ip -j addr show dev eth1", { stdout: ipAddrJson({ eth1: ["192.0.2.9/28"] }) }).on(/^arping -U/, garpSent);
    expect((await runAction(["ip-start", "--dev", "eth1", "--addr", "198.51.100.14"], other)).code).toBe(0);
    expect(other.lines[1]).toBe("ip addr add 198.51.100.14/28 dev eth1");
  });

  it("without a netmask and no address on the device to take one from, the start fails naming the keyword", async () => {
    const runner = new FakeRunner().on("ip -j addr show dev eth1", { stdout: ipAddrJson({ eth1: [] }) });
    const { code, stderr } = await runAction(["ip-start", "--dev", "eth1", "--addr", "198.51.100.14"], runner);
    expect(code).toBe(1);
    expect(stderr).toContain("no netmask given, and eth1 has no IPv4 address to take one from: set netmask in the config");
  });

  it("without a netmask, stop removes the address with the prefix it has, and an absent one is fine", async () => {
    const runner = new FakeRunner().on("ip -j addr show dev eth1", { stdout: ipAddrJson({ eth1: ["198.51.100.14/25"] }) });
    expect((await runAction(["ip-stop", "--dev", "eth1", "--addr", "198.51.100.14"], runner)).code).toBe(0);
    expect(runner.lines).toEqual(["ip -j addr show dev eth1", "ip addr del 198.51.100.14/25 dev eth1"]);
    const absent = new FakeRunner().on("ip -j addr show dev eth1", { exitCode: 1, stderr: 'Device "eth1" does not exist.\n' });
    expect((await runAction(["ip-stop", "--dev", "eth1", "--addr", "198.51.100.14"], absent)).code).toBe(0);
  });

  it("--check-carrier refuses an interface without carrier before touching it (OpenSVC's check_carrier)", async () => {
    const runner = new FakeRunner().on("ip -j link show dev eth1", { stdout: JSON.stringify([{ ifname: "eth1", flags: ["NO-CARRIER", "BROADCAST", "UP"] }]) });
    const { code, stderr } = await runAction(["ip-start", ...args, "--check-carrier"], runner);
    expect(code).toBe(1);
    expect(stderr).toContain("eth1 has no carrier: refusing to plumb 198.51.100.14");
    expect(runner.lines).toEqual(["ip -j link show dev eth1"]);
    const up = new FakeRunner().on("ip -j link show dev eth1", { stdout: JSON.stringify([{ ifname: "eth1", flags: ["BROADCAST", "UP", "LOWER_UP"] }]) }).on(/^arping -U/, garpSent);
    expect((await runAction(["ip-start", ...args, "--check-carrier"], up)).code).toBe(0);
    expect(up.lines.slice(0, 2)).toEqual(["ip -j link show dev eth1", "ip addr add 198.51.100.14/24 dev eth1"]);
  });

  it.each([
    [["ip-start", "--dev", "eth1", "--addr", "198.51.100.14", "--netmask", "33"]],
    [["ip-start", "--dev", "eth1", "--addr", "198.51.100.14", "--netmask", "255.0.255.0"]],
    [["ip-start", "--dev", "a-very-long-interface-name", "--addr", "198.51.100.14", "--netmask", "24"]],
    [["ip-stop", "--dev", "eth1/x", "--addr", "198.51.100.14", "--netmask", "24"]],
  ])("%j is a usage error", async (argv) => {
    const { code, runner } = await runAction(argv);
    expect(code).toBe(2);
    expect(runner.calls).toEqual([]);
  });

  it("an unresolvable host name fails the step (exit 1), it is not a usage error", async () => {
    const { code, stderr } = await runAction(["ip-start", "--dev", "eth1", "--addr", "nowhere.invalid", "--netmask", "24"]);
    expect(code).toBe(1);
    expect(stderr).toContain("cannot resolve nowhere.invalid");
  });
});

describe("addresses", () => {
  it("converts netmasks", () => {
    expect(prefixLength("netmask", "24", 4)).toBe(24);
    expect(prefixLength("netmask", "255.255.255.0", 4)).toBe(24);
    expect(prefixLength("netmask", "255.255.255.255", 4)).toBe(32);
    expect(prefixLength("netmask", "0.0.0.0", 4)).toBe(0);
    expect(prefixLength("netmask", "64", 6)).toBe(64);
    expect(() => prefixLength("netmask", "255.255.0.255", 4)).toThrow(/prefix length/);
    expect(() => prefixLength("netmask", "255.255.255.0", 6)).toThrow(/prefix length/);
  });

  it("computes subnet routes", () => {
    expect(subnetOf("198.51.100.14", 24, 4)).toBe("198.51.100.0/24");
    expect(subnetOf("198.51.100.14", 28, 4)).toBe("198.51.100.0/28");
    expect(subnetOf("198.51.100.14", 32, 4)).toBe("198.51.100.14/32");
    expect(subnetOf("2001:db8:1:2::14", 64, 6)).toBe("2001:db8:1:2:0:0:0:0/64");
  });

  it("compares address spellings", () => {
    expect(sameAddress("2001:db8::1", "2001:0db8:0:0::1")).toBe(true);
    expect(sameAddress("198.51.100.1", "198.51.100.10")).toBe(false);
    expect(sameAddress("::ffff:198.51.100.1", "::ffff:c633:6401")).toBe(true);
  });
});
