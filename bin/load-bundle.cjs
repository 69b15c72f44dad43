"use strict";
// Loads svcc's bundles (dist/*.cjs) the way Node's require() does, but hands V8 the code
// cache that `npm run build` wrote beside each bundle (dist/<bundle>.cache): V8 then skips
// parsing and compiling the functions a run already compiled at build time. Units call
// `svcc res` several times per start and the CLI's cold start is most of a compile's time, so
// this is paid on every step. A cache made by another V8 (another Node) or for another build is
// rejected by V8 itself and the bundle compiles as without one: the cache can only save time.
// The bundles load each other (svcc.cjs → svcc-runtime.cjs, svcc-agent.cjs) through this too.

const { readFileSync, writeFileSync } = require("node:fs");
const { createRequire, wrap } = require("node:module");
const { join } = require("node:path");
const { Script } = require("node:vm");

const dist = join(__dirname, "../dist");
const loaded = new Map();

function loadBundle(name) {
  const hit = loaded.get(name);
  if (hit) return hit.module.exports;
  const file = join(dist, name);
  const source = readFileSync(file, "utf8");
  let cachedData;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined; // a build without caches, or a copy that left them out
  }
  const script = new Script(wrap(source), { filename: file, cachedData });
  const module = { exports: {}, filename: file, id: file, loaded: false };
  loaded.set(name, { module, script, file, cache: cachedData === undefined ? "none" : script.cachedDataRejected ? "rejected" : "used" });
  const nodeRequire = createRequire(file);
  const bundleRequire = (id) => (/^\.\/svcc-[a-z-]+\.cjs$/.test(id) ? loadBundle(id.slice(2)) : nodeRequire(id));
  script.runInThisContext().call(module.exports, module.exports, bundleRequire, module, file, dist);
  module.loaded = true;
  return module.exports;
}

/** Build time only (scripts/build.ts): writes the cache of a bundle this process loaded, with what it compiled so far. */
function writeCodeCache(name) {
  const hit = loaded.get(name);
  if (!hit) throw new Error(`${name} was not loaded`);
  writeFileSync(`${hit.file}.cache`, hit.script.createCachedData());
}

/** For tests: each bundle loaded so far and what became of its code cache ("used", "rejected", "none"). */
function loadedBundles() {
  return [...loaded].map(([name, { cache }]) => ({ name, cache }));
}

module.exports = { loadBundle, loadedBundles, writeCodeCache };
