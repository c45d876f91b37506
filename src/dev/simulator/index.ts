/**
 * A Microsoft Graph simulator for importedWindowsAutopilotDeviceIdentities: the default Graph
 * for `npm start` and for every test. By default it behaves as real Intune has been seen to
 * (service-set importId/productKey, a pending state, lagging lists, Intune's error wording,
 * some 429s without Retry-After, a repeated last @odata.nextLink); `behaviour: "documented"`
 * answers as Microsoft's pages show. See simulator.ts for the request pipeline and options.ts
 * for what each option changes and its source.
 */
export { startGraphSimulator, REQUEST_LOG_LIMIT, type GraphSimulator, type RequestLogEntry } from "./simulator.js";
export { BEHAVIOUR_DEFAULTS, type SimulatorOptions, type SimulatorBehaviour } from "./options.js";
export type { FaultRule, FaultMatch } from "./faults.js";
export type { CreateEntry } from "./handlers.js";
export type { ThrottleLimits } from "./throttle.js";
export type { ImportedDeviceRecord, SimulatedImportedDeviceState, SimulatedDeviceImportStatus } from "./records.js";
export { IMPORT_ERROR_NAMES, DEVICE_DUPLICATED } from "./importErrors.js";
