/**
 * The audit log: one JSON line per moderated item, saying what was decided, why, when, by which model
 * (the sha256 of its weights file) and under which policy (the sha256 of its canonical JSON), so a decision
 * can be traced and replayed later. Lines are appended with one write each (a crash loses at most the last).
 */
import { modelFingerprint } from "../handle/fingerprint.js";
import { appendJsonLine } from "../util/fs.js";
import type { ModerationResult, Moderator } from "./moderate.js";

export interface AuditContext {
  model: { source: string; fingerprint: string | null };
  policy: { name: string; hash: string; file?: string };
}

export interface AuditLine extends Omit<ModerationResult, "id"> {
  time: string;
  id: string;
  model: AuditContext["model"];
  policy: AuditContext["policy"];
}

/** The model and policy identities of a moderator (the fingerprint is null for a model never saved). */
export function auditContext(moderator: Moderator, policyFile?: string): AuditContext {
  return {
    model: { source: moderator.model.name, fingerprint: fingerprintOf(moderator.model) },
    policy: {
      name: moderator.policy.name,
      hash: moderator.hash,
      ...(policyFile ? { file: policyFile } : {}),
    },
  };
}

export function auditLine(result: ModerationResult, ctx: AuditContext, time = new Date()): AuditLine {
  return { time: time.toISOString(), ...result, model: ctx.model, policy: ctx.policy };
}

/** Append one audit line per result to `file`. */
export function appendAudit(file: string, results: readonly ModerationResult[], ctx: AuditContext): void {
  for (const r of results) appendJsonLine(file, auditLine(r, ctx));
}

function fingerprintOf(model: { dir?: string }): string | null {
  return model.dir ? modelFingerprint(model.dir) : null;
}
