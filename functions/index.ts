/**
 * Azure Functions v4 registrations: a thin shell. Each registration adapts its trigger to the
 * host-neutral shapes of src/ and runs one definition from the shared list; the development
 * host (src/dev/host/devHost.ts) runs the same list without the Functions host.
 */
// @azure/functions is CommonJS (a webpack bundle): Node's ESM loader detects only some of its
// exports by name (not HttpResponse), so the module is taken whole and then destructured.
import azureFunctions, { type HttpRequest, type InvocationContext } from "@azure/functions";
import { Readable } from "node:stream";
import { functionDefinitions } from "../src/app/functionDefinitions.js";
import { runHttpFunction } from "../src/app/runHttpFunction.js";
import { servicesFromEnvironment } from "../src/app/services.js";
import { toTelemetryConfig } from "../src/config/config.js";
import { parseTelemetrySettings } from "../src/config/settings.js";
import { appLogger } from "../src/telemetry/appLogger.js";
import { runQueueMessage } from "../src/telemetry/queueMessage.js";
import { startTelemetry } from "../src/telemetry/telemetry.js";
import { readLimited, type AppRequest } from "../src/http/types.js";
import { STORAGE_CONNECTION_SETTING } from "../src/storage/names.js";

const { app, HttpResponse } = azureFunctions;

// Without it the worker buffers every HTTP body whole: the CSV export of a 10,000-device batch
// (src/status/exportDevicesCsv.ts, sent page by page) would sit in memory and reach the client
// only at the end, and request bodies would be read entirely before IMPORT_MAX_BODY_BYTES is
// applied. Needs Functions host 4.28 or later (Flex Consumption runs a newer one); it must come
// before any registration.
app.setup({ enableHttpStream: true });

// Before any registration: the instrumentation declares its capability to the host and hooks
// invocations, both of which only work during app start-up. Without a connection string this
// loads nothing.
const telemetry = await startTelemetry(toTelemetryConfig(parseTelemetrySettings(process.env)), { functionsModule: azureFunctions });
// With telemetry on, log records go out through OpenTelemetry with their fields as attributes;
// printing them too would have the host forward each one a second time.
const services = servicesFromEnvironment(appLogger({ console: !telemetry.enabled }));

function toAppRequest(request: HttpRequest): AppRequest {
  return {
    method: request.method,
    url: new URL(request.url),
    headers: request.headers,
    params: request.params,
    readBody: (limitBytes) => readLimited(request.body as AsyncIterable<Uint8Array> | null, limitBytes),
  };
}

/** triggerMetadata values arrive as strings or numbers depending on the host version. */
function deliveryOf(context: InvocationContext) {
  const metadata = context.triggerMetadata ?? {};
  return { id: String(metadata.id ?? context.invocationId), dequeueCount: Number(metadata.dequeueCount ?? 1) };
}

for (const definition of functionDefinitions) {
  switch (definition.kind) {
    case "http":
      app.http(definition.name, {
        route: definition.route,
        methods: definition.methods,
        // The app authenticates every partner route itself (API keys or Entra ID tokens, in
        // runHttpFunction), the same way under both hosts; a Functions key on top would be a
        // second, shared secret that partners would have to carry.
        authLevel: "anonymous",
        handler: async (request) => {
          const response = await runHttpFunction(definition, services, toAppRequest(request));
          return new HttpResponse({
            status: response.status,
            headers: response.headers ?? {},
            body: response.stream ? Readable.from(response.stream) : (response.body ?? ""),
          });
        },
      });
      break;
    case "queue":
      app.storageQueue(definition.name, {
        queueName: definition.queueName,
        connection: STORAGE_CONNECTION_SETTING,
        handler: async (payload, context) => {
          const s = await services();
          return runQueueMessage(payload, () => definition.handle(s, payload, deliveryOf(context)));
        },
      });
      break;
    case "timer":
      app.timer(definition.name, {
        schedule: definition.schedule,
        handler: async () => definition.handle(await services()),
      });
      break;
  }
}
