/**
 * Autopilot import error codes as Graph reports them in `state.deviceErrorCode` /
 * `state.deviceErrorName` (table in shared/reference/autopilot-graph-facts.md). The one list,
 * read by the worker (to explain failures) and by the simulator (to produce them).
 */
export const IMPORT_ERROR_NAMES: ReadonlyMap<number, string> = new Map([
  [801, "InvalidZtdRequestBody"],
  [802, "InvalidZtdHardwareHash"],
  [803, "MissingZtdSerialNumberAndProductKey"],
  [806, "ZtdDeviceAlreadyAssigned"],
  [807, "ZtdDeviceIsNotRegistered"],
  [808, "ZtdDeviceAssignedToOtherTenant"],
  [809, "ZtdProfileIsNotRegistered"],
  [810, "ZtdProfileAssignedToOtherTenant"],
  [811, "ZtdDeviceRegisteredByOtherTenant"],
  [812, "ZtdDeviceNotFound"],
  [813, "ZtdDeviceIsNotUnique"],
  [814, "ZtdDeviceAlreadyAadRegistered"],
]);

/** 806 ZtdDeviceAlreadyAssigned: the device is already registered in this tenant (onExisting "update" takes it over). */
export const ALREADY_ASSIGNED = 806;
