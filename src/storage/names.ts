/**
 * Queue and table names. The queue names also appear in the trigger bindings, so they are
 * constants rather than settings: a binding is fixed when the app is registered.
 */
export const DEVICE_QUEUE = "device-imports";
/** Where the Functions host (and the development host) moves a message after maxDequeueCount failed deliveries. */
export const DEVICE_POISON_QUEUE = `${DEVICE_QUEUE}-poison`;
export const IMPORTS_TABLE = "imports";
/** Each tenant's write schedule, shared by every instance. */
export const PACING_TABLE = "tenantpacing";
/** Batches whose intake has not finished enqueueing, for the sweeper. */
export const INTAKE_JOURNAL_TABLE = "intakejournal";
/** The app's storage connection: the same account the Functions host uses. */
export const STORAGE_CONNECTION_SETTING = "AzureWebJobsStorage";
