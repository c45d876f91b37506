/**
 * Queue and table names. The queue names also appear in the trigger bindings, so they are
 * constants rather than settings: a binding is fixed when the app is registered.
 */
export const DEVICE_QUEUE = "device-imports";
/** Where the Functions host (and the development host) moves a message after maxDequeueCount failed deliveries. */
export const DEVICE_POISON_QUEUE = `${DEVICE_QUEUE}-poison`;
/**
 * A chunk's followers (docs/ARCHITECTURE.md, "Chunks"): one message per device, the safety net
 * of its chunk, drained by a timer. Apart from the device queue, so a big batch's followers,
 * which all come due a minute after their chunks, never stand in front of another tenant's work.
 */
export const FOLLOWER_QUEUE = "device-followers";
export const FOLLOWER_POISON_QUEUE = `${FOLLOWER_QUEUE}-poison`;
/**
 * A batch's fan-out (docs/ARCHITECTURE.md, "Intake"): a few messages per batch, each a range of
 * its devices that a worker expands into their device messages, so intake answers 202 once the
 * batch is durable rather than once every device's message is sent.
 */
export const FANOUT_QUEUE = "device-fanout";
export const FANOUT_POISON_QUEUE = `${FANOUT_QUEUE}-poison`;
export const IMPORTS_TABLE = "imports";
/** One message per delivery attempt of a batch-completion webhook (src/webhooks), and where failing ones end. */
export const WEBHOOK_QUEUE = "webhook-deliveries";
export const WEBHOOK_POISON_QUEUE = `${WEBHOOK_QUEUE}-poison`;
/** Each tenant's write schedule, shared by every instance. */
export const PACING_TABLE = "tenantpacing";
/** Batches whose intake has not finished enqueueing, for the sweeper. */
export const INTAKE_JOURNAL_TABLE = "intakejournal";
/** Every batch, by partner and newest first, for GET /api/imports (src/storage/batchIndex.ts). */
export const BATCH_INDEX_TABLE = "importsbypartner";
/** Every deregistration batch (src/deregistration), by partner and newest first, for GET /api/deregistrations: the same shape as importsbypartner. */
export const DEREGISTRATION_INDEX_TABLE = "deregistrationsbypartner";
/** Partners (tenants they may import into, Entra app ids), their API key hashes, and app id → partner. */
export const PARTNERS_TABLE = "partners";
export const PARTNER_KEYS_TABLE = "partnerkeys";
export const PARTNER_APPS_TABLE = "partnerapps";
/** Idempotency-Key records of POST /api/imports, per partner, and each partner's intake rate-limit state. */
export const IDEMPOTENCY_TABLE = "idempotencykeys";
export const RATE_LIMIT_TABLE = "ratelimits";
/** The app's storage connection: the same account the Functions host uses. */
export const STORAGE_CONNECTION_SETTING = "AzureWebJobsStorage";
