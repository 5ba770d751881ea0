export { type AppCertificate, createAppCertificate } from './certificate.js';
export { startEmulator } from './emulator.js';
export {
  FAULT_ACTIONS,
  FAULT_STAGES,
  type Fault,
  type FaultAction,
  type FaultSpec,
  FaultSpecError,
  type FaultStage,
  GRAPH_FAULT_STAGES,
  type GraphFaultStage,
  HTTP_FAULT_STAGES,
} from './faults.js';
export { DEFAULT_LIMITS, TIME_UNITS_PER_DAY } from './limits.js';
export { type MsalMetadata, msalMetadataFor } from './msal-metadata.js';
export { Replies, SERVER_NAME } from './smtp-replies.js';
export { GRAPH_RESOURCE, OUTLOOK_RESOURCE } from './token-authority.js';
export type {
  AcceptedMessage,
  AttachmentSummary,
  DraftSummary,
  Emulator,
  EmulatorApp,
  EmulatorLimits,
  EmulatorOptions,
  EmulatorStats,
  ViolationCounts,
} from './types.js';
