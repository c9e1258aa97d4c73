/** Content moderation: policies as data, decisions with explanations, audit lines, calibration. */
export { type AuditContext, type AuditLine, appendAudit, auditContext, auditLine } from "./audit.js";
export {
  type CalibrateOptions,
  type CalibrationResult,
  type ConceptCurves,
  calibratePolicy,
  type LabeledExample,
  readLabeled,
  trainHead,
} from "./calibrate.js";
export { fitThreshold, operatingPoint, rocAuc, sweep, type Target } from "./curves.js";
export {
  type CaptionResult,
  type ConceptHit,
  type EmbeddingModel,
  isDecision,
  type ModerationItem,
  type ModerationResult,
  Moderator,
  type ModeratorOptions,
  moderate,
  SEVERITY,
  strictest,
  templatesFor,
} from "./moderate.js";
export {
  ACTIONS,
  type Action,
  type AllowConcept,
  type Calibration,
  type CaptionCheck,
  type Concept,
  DEFAULT_BORDERLINE,
  DEFAULT_TIGHTEN,
  type Decision,
  type LinearHead,
  type LoadedPolicy,
  loadPolicy,
  type OperatingPoint,
  type Policy,
  parsePolicy,
  policyHash,
  savePolicy,
  type TemplateSpec,
  validatePolicy,
} from "./policy.js";
export { calibrationReportHtml } from "./report.js";
