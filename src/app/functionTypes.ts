import type { QueueDelivery } from "../storage/queueText.js";
import type { Caller } from "../auth/caller.js";
import type { AppRequest, AppResponse } from "../http/types.js";
import type { Services } from "./services.js";

/**
 * What a function of the app is, host-neutral: functions/index.ts registers each with the Azure
 * Functions host, src/dev/host/devHost.ts serves them without it. Apart from the list
 * (functionDefinitions.ts) so that app/openapi, which the list imports, names them without a cycle.
 */
interface HttpFunctionBase {
  kind: "http";
  name: string;
  /** Azure Functions route template, below the host's "/api" prefix. */
  route: string;
  methods: ("GET" | "POST" | "DELETE")[];
}

/** A partner route: runHttpFunction authenticates the caller first and answers 401 itself. */
export interface PartnerHttpFunctionDefinition extends HttpFunctionBase {
  access: "partner";
  handle(services: Services, request: AppRequest, caller: Caller): Promise<AppResponse>;
}

/** A public route (the OpenAPI document, the dashboard page): no caller. */
export interface AnonymousHttpFunctionDefinition extends HttpFunctionBase {
  access: "anonymous";
  handle(services: Services, request: AppRequest, caller?: undefined): Promise<AppResponse>;
}

export type HttpFunctionDefinition = PartnerHttpFunctionDefinition | AnonymousHttpFunctionDefinition;

export interface QueueFunctionDefinition {
  kind: "queue";
  name: string;
  queueName: string;
  /** Resolves when the message is done with (the host deletes it); throws to have it delivered again. */
  handle(services: Services, payload: unknown, delivery: QueueDelivery): Promise<void>;
}

export interface TimerFunctionDefinition {
  kind: "timer";
  name: string;
  /** NCRONTAB (with seconds), as the Functions timer trigger takes it. */
  schedule: string;
  /** The same period in milliseconds, for the development host's timer. */
  everyMs: number;
  handle(services: Services): Promise<void>;
}

export type FunctionDefinition = HttpFunctionDefinition | QueueFunctionDefinition | TimerFunctionDefinition;
