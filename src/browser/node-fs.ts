/** `node:fs` in browser bundles: every function says it needs Node (see node-only.ts). */
import { nodeOnly } from "./node-only.js";

const fn = (name: string) => nodeOnly("node:fs", name);
export const accessSync = fn("accessSync");
export const appendFileSync = fn("appendFileSync");
export const closeSync = fn("closeSync");
export const copyFileSync = fn("copyFileSync");
export const createReadStream = fn("createReadStream");
export const createWriteStream = fn("createWriteStream");
export const existsSync = fn("existsSync");
export const fstatSync = fn("fstatSync");
export const fsyncSync = fn("fsyncSync");
export const ftruncateSync = fn("ftruncateSync");
export const lstatSync = fn("lstatSync");
export const mkdirSync = fn("mkdirSync");
export const mkdtempSync = fn("mkdtempSync");
export const openSync = fn("openSync");
export const readdirSync = fn("readdirSync");
export const readFileSync = fn("readFileSync");
export const readSync = fn("readSync");
export const realpathSync = fn("realpathSync");
export const renameSync = fn("renameSync");
export const rmSync = fn("rmSync");
export const statSync = fn("statSync");
export const unlinkSync = fn("unlinkSync");
export const writeFileSync = fn("writeFileSync");
export const writeSync = fn("writeSync");
export const writevSync = fn("writevSync");
