// The lab itself, end to end: two real nodes, the shared disks, the network, the images, and a
// PostgreSQL started by hand the way the db1 service will be (pause + macvlan + postgres on the
// shared xfs), reached from the client namespace, moved to the other node, then the faults.
// Runs as root. If the lab cannot come up, every test here fails with the reason (never skips).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as lab from "./lab.js";

const log = (m: string) => process.stderr.write(`lab: ${m}\n`);
const MNT = "/srv/db1/data";

/** The db1 service, by hand: xfs mount, pause with the service address on a macvlan, postgres. */
async function startDbByHand(node: lab.NodeName): Promise<number> {
  const t0 = performance.now();
  const r = await lab.shell(
    node,
    `set -e
mkdir -p ${MNT}
mount ${lab.DEVICES.xfs} ${MNT}
mkdir -p ${MNT}/postgresql
chown 999:999 ${MNT}/postgresql
docker run -d --name db1-pause --net=none local/pause >/dev/null
pid=$(docker inspect -f '{{.State.Pid}}' db1-pause)
ip link add mv0 link ${lab.NODE_IFACE} type macvlan mode bridge
ip link set mv0 netns "$pid"
nsenter -t "$pid" -n sh -ec '
  ip addr add ${lab.SERVICE_ADDR}/${lab.PREFIX} dev mv0
  ip link set mv0 up
  ip route add default via ${lab.GATEWAY}
  arping -U -c1 -I mv0 ${lab.SERVICE_ADDR} >/dev/null'
docker run -d --name db1-postgres --net=container:db1-pause -v ${MNT}/postgresql:/var/lib/postgresql:rw --user=999:999 local/postgres >/dev/null`,
    { timeout: 60_000 },
  );
  expect(r.exitCode, `start db1 by hand on ${node}: ${r.stderr}`).toBe(0);
  await lab.waitFor(
    `postgres on ${lab.SERVICE_ADDR} (started on ${node}) to answer psql from ${lab.CLIENT_NETNS}`,
    async () => ((await lab.clientPsql("select 1", { timeout: 5_000 })).stdout === "1" ? true : undefined),
    { timeoutMs: 30_000, intervalMs: 200, detail: async () => (await lab.exec(node, ["docker", "logs", "--tail", "20", "db1-postgres"])).stderr },
  );
  return Math.round(performance.now() - t0);
}

/** Stops it again; returns how long each docker stop took. */
async function stopDbByHand(node: lab.NodeName): Promise<{ postgresMs: number; pauseMs: number }> {
  const stop = async (name: string) => {
    const r = await lab.exec(node, ["docker", "stop", "-t", "10", name], { timeout: 20_000 });
    expect(r.exitCode, `docker stop ${name} on ${node}: ${r.stderr}`).toBe(0);
    await lab.exec(node, ["docker", "rm", "-f", name], { check: true });
    return Math.round(r.ms);
  };
  const postgresMs = await stop("db1-postgres");
  const pauseMs = await stop("db1-pause");
  await lab.exec(node, ["umount", MNT], { check: true });
  return { postgresMs, pauseMs };
}

describe("lab smoke", () => {
  let info: lab.LabInfo;

  beforeAll(async () => {
    if (process.getuid?.() !== 0) {
      throw new Error(`the lab smoke test must run as root (uid is ${process.getuid?.()}): it boots nspawn nodes, namespaces and loop devices`);
    }
    try {
      info = await lab.bringUp({ log });
      log(`up in ${info.timings.bringUpMs} ms: ${JSON.stringify(info.timings)}`);
    } catch (e) {
      await lab.tearDown({ log }).catch((te) => log(`tear-down after the failed bring-up: ${te}`));
      throw e;
    }
  }, 240_000);

  afterAll(async () => {
    await lab.tearDown({ log });
    expect(lab.leftovers()).toEqual([]);
  }, 120_000);

  it("runs as root", () => {
    expect(process.getuid?.()).toBe(0);
  });

  it("boots both nodes with systemd as PID 1, a system D-Bus reachable from the machine, their own addresses", async () => {
    for (const n of lab.NODES) {
      expect((await lab.exec(n, ["cat", "/proc/1/comm"])).stdout).toBe("systemd");
      expect((await lab.exec(n, ["hostname"])).stdout).toBe(n);
      expect((await lab.systemctl(n, "is-system-running")).stdout).toBe("running");
      expect(info.nodes[n].failedUnits).toEqual([]);
      const bus = lab.busAddress(n);
      const state = await execa("busctl", [`--address=${bus}`, "get-property", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "SystemState"], { timeout: 10_000 });
      expect(state.stdout.trim()).toBe('s "running"');
      const unit = await execa("busctl", [`--address=${bus}`, "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "GetUnit", "s", "docker.service"], { timeout: 10_000 });
      expect(unit.stdout).toContain("docker_2eservice");
      expect((await lab.exec(n, ["ip", "-4", "-o", "addr", "show", lab.NODE_IFACE])).stdout).toContain(`${lab.NODE_ADDR[n]}/24`);
      // The repo is there read-only, with node.
      expect((await lab.exec(n, ["test", "-x", `${lab.REPO_IN_NODE}/bin/svcc`])).exitCode).toBe(0);
      expect((await lab.exec(n, ["touch", `${lab.REPO_IN_NODE}/x`])).exitCode).not.toBe(0);
      expect((await lab.exec(n, ["node", "--version"])).stdout).toMatch(/^v\d+\./);
    }
    expect((await lab.exec("node1", ["ping", "-c1", "-W2", lab.NODE_ADDR.node2])).exitCode).toBe(0);
    expect((await lab.clientExec(["ping", "-c1", "-W2", lab.NODE_ADDR.node1])).exitCode).toBe(0);
  });

  it("runs dockerd in both nodes, with local/pause and local/postgres loaded", async () => {
    for (const n of lab.NODES) {
      const r = await lab.exec(n, ["docker", "info", "--format", "{{.ServerVersion}} {{.CgroupVersion}}"]);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^\d+\.\d+\.\d+\S* 2$/);
      const images = (await lab.exec(n, ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"])).stdout.split("\n");
      expect(images).toEqual(expect.arrayContaining(["local/pause:latest", "local/postgres:latest"]));
      expect((await lab.exec(n, ["docker", "inspect", "-f", "{{.Config.StopSignal}} {{.Config.User}} {{json .Config.Entrypoint}}", "local/postgres"])).stdout).toBe('SIGINT postgres ["/bin/pg-entry"]');
    }
  });

  it("shares VG db1: both nodes see it and a tag added on node1 is seen on node2", async () => {
    for (const n of lab.NODES) {
      const r = await lab.exec(n, ["vgs", "--noheadings", "-o", "vg_name,pv_name"]);
      expect(r.exitCode, r.stderr).toBe(0);
      const [vg, pv] = r.stdout.trim().split(/\s+/);
      expect(vg).toBe(lab.VG_NAME);
      expect([info.loops.vg, lab.DEVICES.vg]).toContain(pv);
      expect(r.stderr).not.toMatch(/leaked/);
    }
    await lab.exec("node1", ["vgchange", "--addtag", "@node1", lab.VG_NAME], { check: true });
    expect((await lab.exec("node2", ["vgs", "--noheadings", "-o", "vg_tags", lab.VG_NAME])).stdout.trim()).toBe("node1");
    await lab.exec("node2", ["vgchange", "--deltag", "@node1", lab.VG_NAME], { check: true });
    expect((await lab.exec("node1", ["vgs", "--noheadings", "-o", "vg_tags", lab.VG_NAME])).stdout.trim()).toBe("");
  });

  it("shares the xfs: written on node1, read back on node2; a .mount unit on /dev/loop-xfs starts at once (udev stand-in)", async () => {
    const stamp = `written on node1 at ${Date.now()}`;
    await lab.shell("node1", `set -e; mkdir -p ${MNT}; mount ${lab.DEVICES.xfs} ${MNT}; echo '${stamp}' > ${MNT}/smoke.txt; umount ${MNT}`, { check: true });
    expect(await lab.mountsUnder("node1", "/srv/db1")).toEqual([]);
    await lab.shell("node2", `set -e; mkdir -p ${MNT}; mount ${lab.DEVICES.xfs} ${MNT}`, { check: true });
    expect((await lab.exec("node2", ["cat", `${MNT}/smoke.txt`])).stdout).toBe(stamp);
    await lab.exec("node2", ["umount", MNT], { check: true });

    // Without the lab's udev stand-in this start would wait forever for dev-loop\x2dxfs.device.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "svcc-lab-units-"));
    try {
      fs.writeFileSync(
        path.join(dir, "srv-db1-data.mount"),
        `[Unit]\nDefaultDependencies=no\nConflicts=umount.target\nBefore=umount.target\n\n[Mount]\nWhat=${lab.DEVICES.xfs}\nWhere=${MNT}\nType=xfs\nTimeoutSec=10\n`,
      );
      const names = await lab.installUnits("node2", dir);
      const start = await lab.systemctl("node2", "start", "srv-db1-data.mount");
      expect(start.exitCode, start.stderr).toBe(0);
      expect(start.ms).toBeLessThan(5_000);
      expect(await lab.activeDb1Units("node2")).toEqual(["srv-db1-data.mount"]);
      expect((await lab.exec("node2", ["cat", `${MNT}/smoke.txt`])).stdout).toBe(stamp);
      await lab.exec("node2", ["rm", `${MNT}/smoke.txt`], { check: true });
      await lab.systemctl("node2", "stop", "srv-db1-data.mount").then((r) => expect(r.exitCode, r.stderr).toBe(0));
      await lab.removeUnits("node2", names);
      expect(await lab.activeDb1Units("node2")).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serves PostgreSQL started by hand (pause + macvlan + postgres on the xfs) to the client, then on the other node", async () => {
    const startMs = await startDbByHand("node1");
    expect(await lab.containers("node1")).toEqual(expect.arrayContaining(["db1-pause", "db1-postgres"]));
    const w = await lab.clientPsql("create table smoke (v text); insert into smoke values ('from node1'); select v from smoke", { timeout: 10_000 });
    expect(w.stdout, w.stderr).toContain("from node1");
    const stop1 = await stopDbByHand("node1");
    // Both images stop on their signal at once, not after docker's 10 s timeout.
    expect(stop1.pauseMs).toBeLessThan(5_000);
    expect(stop1.postgresMs).toBeLessThan(5_000);
    expect(await lab.containers("node1", { all: true })).toEqual([]);

    const startMs2 = await startDbByHand("node2");
    const r = await lab.clientPsql("select v from smoke", { timeout: 10_000 });
    expect(r.stdout, r.stderr).toBe("from node1");
    const stop2 = await stopDbByHand("node2");
    log(`db1 by hand: start on node1 ${startMs} ms (initdb), stop ${JSON.stringify(stop1)}; start on node2 ${startMs2} ms, stop ${JSON.stringify(stop2)}`);

    for (const n of lab.NODES) {
      expect(await lab.containers(n, { all: true })).toEqual([]);
      expect(await lab.mountsUnder(n, "/srv/db1")).toEqual([]);
      // systemd reads mountinfo rate-limited (5 events/s): after docker's mount churn its view lags ~1 s.
      await lab.waitFor(`no active db1 unit on ${n}`, async () => ((await lab.activeDb1Units(n)).length === 0 ? true : undefined), {
        timeoutMs: 5_000,
        intervalMs: 100,
        detail: async () => (await lab.activeDb1Units(n)).join(", "),
      });
    }
    expect((await lab.clientPsql("select 1", { timeout: 10_000 })).exitCode).not.toBe(0);
  }, 150_000);

  it("injects faults: freeze/thaw, link down/up, crash and reboot", async () => {
    await lab.freeze("node1");
    const hung = await lab.exec("node1", ["systemctl", "is-system-running"], { timeout: 1_500 });
    expect(hung.timedOut).toBe(true);
    await lab.thaw("node1");
    expect((await lab.systemctl("node1", "is-system-running")).stdout).toBe("running");

    await lab.linkDown("node1");
    expect((await lab.clientExec(["ping", "-c1", "-W1", lab.NODE_ADDR.node1])).exitCode).not.toBe(0);
    await lab.linkUp("node1");
    await lab.waitFor("node1 to answer ping after link up", async () => ((await lab.clientExec(["ping", "-c1", "-W1", lab.NODE_ADDR.node1])).exitCode === 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 200 });

    const t0 = performance.now();
    await lab.crash("node2");
    const crashMs = Math.round(performance.now() - t0);
    expect(() => lab.nodePid("node2")).toThrow(/not running/);
    expect((await lab.clientExec(["ping", "-c1", "-W1", lab.NODE_ADDR.node2])).exitCode).not.toBe(0);
    const { ms: rebootMs } = await lab.reboot("node2");
    log(`crash ${crashMs} ms, reboot ${rebootMs} ms`);
    expect((await lab.systemctl("node2", "is-system-running")).stdout).toBe("running");
    expect((await lab.systemctl("node2", "is-active", "dev-loop\\x2dxfs.device")).stdout).toBe("active");
    expect((await lab.exec("node2", ["vgs", "--noheadings", "-o", "vg_name"])).stdout.trim()).toBe(lab.VG_NAME);
    expect((await lab.exec("node2", ["docker", "images", "-q", "local/postgres"])).stdout).not.toBe("");
    expect((await lab.clientExec(["ping", "-c1", "-W2", lab.NODE_ADDR.node2])).exitCode).toBe(0);
  }, 150_000);

  // Last: it tears the lab down itself (afterAll's tear-down then finds nothing to do).
  it("tears down even when another mount namespace holds a copy of the lab's mounts (a process started by `unshare -m` while the lab was up)", async () => {
    const holder = execa("unshare", ["-m", "--propagation", "private", "sleep", "120"], { reject: false, stdio: "ignore" });
    try {
      const copy = await lab.waitFor("the copy's mount namespace", () => {
        try {
          return fs.readFileSync(`/proc/${holder.pid}/mountinfo`, "utf8").includes("/var/lib/svcc-lab/disks/leasefs") && fs.readlinkSync(`/proc/${holder.pid}/ns/mnt`) !== fs.readlinkSync("/proc/self/ns/mnt") ? true : undefined;
        } catch {
          return undefined;
        }
      }, { timeoutMs: 5_000, intervalMs: 50 });
      expect(copy).toBe(true);
      await lab.tearDown({ log });
      expect(lab.leftovers()).toEqual([]);
      expect(fs.readFileSync(`/proc/${holder.pid}/mountinfo`, "utf8")).not.toContain("/var/lib/svcc-lab/");
      expect(holder.exitCode).toBeNull(); // the holder is not ours to end: it still runs
    } finally {
      if (holder.pid) process.kill(holder.pid, "SIGKILL");
      await holder;
    }
  }, 120_000);
});
