#!/usr/bin/env node
/**
 * Juxta's preinstall: keeps onnxruntime-node's install offline-safe for projects that depend on Juxta.
 *
 * Why: on linux/x64, onnxruntime-node's postinstall downloads its CUDA and TensorRT providers from
 * api.nuget.org unless their files are already in its bin folder, and fails the whole `npm install` when
 * that host cannot be reached. The switches that skip it (`ONNXRUNTIME_NODE_INSTALL=skip`, an `.npmrc`
 * entry, `allowScripts` in package.json) all belong to the project being installed, so a library cannot
 * pass them on. Juxta runs ONNX Runtime on the CPU only, whose runtime ships inside the npm package.
 *
 * How: npm runs each lifecycle stage across the whole tree before the next (every preinstall, then every
 * install, then every postinstall), after all packages are unpacked. So this script finds the
 * onnxruntime-node that Juxta resolves and writes a small text placeholder for each file its postinstall
 * would fetch; the postinstall then finds them present and exits. The CPU provider never opens them.
 *
 * It does nothing when the installing user chose for themselves (ONNXRUNTIME_NODE_INSTALL or
 * npm_config_onnxruntime_node_install set, e.g. `=cuda12` to get the GPU providers), when Juxta itself is
 * the project being installed (its own package.json denies the postinstall through `allowScripts`), or
 * when no onnxruntime-node is found. It never fails the install.
 */
"use strict";
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const PLACEHOLDER = `Placeholder written by juxta's preinstall (scripts/onnxruntime-cpu-only.cjs) so that
onnxruntime-node's postinstall does not download the CUDA/TensorRT providers: Juxta runs on the CPU.
For the GPU providers run (with onnxruntime-node's install script allowed)
  ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node
`;

function userChose() {
  const keys = [
    "ONNXRUNTIME_NODE_INSTALL",
    "ONNXRUNTIME_NODE_INSTALL_CUDA",
    "npm_config_onnxruntime_node_install",
    "npm_config_onnxruntime_node_install_cuda",
  ];
  return keys.some((k) => process.env[k] !== undefined && process.env[k] !== "");
}

function isProjectRoot() {
  const prefix = process.env.npm_config_local_prefix;
  return prefix !== undefined && path.resolve(prefix) === path.resolve(__dirname, "..");
}

/** The files onnxruntime-node's postinstall would fetch on this platform, as paths in its bin folder. */
function filesItWouldFetch(ortDir) {
  const platform = `${os.platform()}/${os.arch()}`;
  const metadata = require(path.join(ortDir, "script", "install-metadata.js"));
  const bin = path.join(ortDir, "bin", "napi-v6", platform);
  const files = [];
  for (const name of metadata.requirements[platform] ?? []) {
    for (const file of Object.keys(metadata.manifests[`${platform}:${name}`] ?? {}))
      files.push(path.join(bin, file));
  }
  return files;
}

function main() {
  if (userChose() || isProjectRoot()) return;
  let ortDir;
  try {
    ortDir = path.dirname(require.resolve("onnxruntime-node/package.json", { paths: [__dirname] }));
  } catch {
    return; // not unpacked where Node resolves it from here: nothing to do
  }
  let files;
  try {
    files = filesItWouldFetch(ortDir);
  } catch {
    return; // a layout this script does not know: leave onnxruntime-node's postinstall to decide
  }
  let wrote = 0;
  for (const file of files) {
    if (fs.existsSync(file)) continue;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, PLACEHOLDER);
    wrote++;
  }
  if (wrote > 0)
    console.log(
      `juxta: onnxruntime-node will use its bundled CPU runtime (${wrote} GPU provider downloads skipped)`,
    );
}

try {
  main();
} catch (e) {
  console.warn(`juxta: could not prepare onnxruntime-node for a CPU-only install: ${e.message}`);
}
