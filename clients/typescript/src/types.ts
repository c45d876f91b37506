import type { components } from "./generated/schema.js";

/** The document's component schemas under the names partners use. */
type Schemas = components["schemas"];
export type ImportRequest = Schemas["ImportRequest"];
export type GraphImportRequest = Schemas["GraphImportRequest"];
export type ImportDevice = Schemas["ImportDevice"];
export type AcceptedBatch = Schemas["AcceptedBatch"];
export type Batch = Schemas["Batch"];
export type BatchStatus = Schemas["BatchStatus"];
export type BatchCounts = Schemas["BatchCounts"];
export type BatchPage = Schemas["BatchPage"];
export type Device = Schemas["Device"];
export type DeviceState = Schemas["DeviceState"];
export type DeviceError = Schemas["DeviceError"];
export type DevicePage = Schemas["DevicePage"];
export type DeviceWarning = Schemas["DeviceWarning"];
export type ModelCount = Schemas["ModelCount"];
export type DryRunResult = Schemas["DryRunResult"];
export type RetryResult = Schemas["RetryResult"];
export type CancelResult = Schemas["CancelResult"];
export type Problem = Schemas["Problem"];
export type DeregistrationRequest = Schemas["DeregistrationRequest"];
export type Deregistration = Schemas["Deregistration"];
export type DeregistrationStatus = Schemas["DeregistrationStatus"];
export type DeregistrationState = Schemas["DeregistrationState"];
export type DeregistrationDeviceOutcome = Schemas["DeregistrationDeviceOutcome"];
