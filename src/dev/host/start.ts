/**
 * `npm start`: the whole pipeline on this machine with embedded defaults. Starts Azurite in
 * memory, the Graph simulator (unless a real Graph credential is configured), and the
 * development host serving the same function definitions the Functions host would run.
 */
import { createServices } from "../../app/services.js";
import { loadConfig } from "../../config/config.js";
import { SettingsError } from "../../config/settings.js";
import { startGraphSimulator, type GraphSimulator } from "../simulator/index.js";
import { appLogger } from "../../telemetry/appLogger.js";
import { startTelemetry, stopTelemetry } from "../../telemetry/telemetry.js";
import { startAzurite, type RunningAzurite } from "./azurite.js";
import { DEFAULT_DEV_API_KEY, seedDemoPartner } from "./demoPartner.js";
import { startDevHost } from "./devHost.js";

const DEMO_TENANT_ID = "11111111-2222-3333-4444-555555555555";
const OTHER_TENANT_ID = "99999999-8888-7777-6666-555555555555";

async function main(): Promise<void> {
  const env: Record<string, string | undefined> = { ...process.env };
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };

  try {
    let azurite: RunningAzurite | undefined;
    if (!env.AzureWebJobsStorage && !env.AzureWebJobsStorage__queueServiceUri) {
      azurite = await startAzurite();
      stops.push(azurite.stop);
      env.AzureWebJobsStorage = azurite.connectionString;
    }

    let simulator: GraphSimulator | undefined;
    const realGraph = env.GRAPH_CREDENTIAL && env.GRAPH_CREDENTIAL !== "simulator";
    if (!realGraph && !env.GRAPH_BASE_URL) {
      simulator = await startGraphSimulator({
        settleDelayMs: Number(env.SIMULATOR_SETTLE_DELAY_MS ?? 5_000),
        profileAssignDelayMs: Number(env.SIMULATOR_PROFILE_DELAY_MS ?? 10_000),
      });
      stops.push(() => simulator!.stop());
      // So the walkthrough's examples/devices.csv shows both kinds of explained failure.
      simulator.registerDevice(env.DEFAULT_TENANT_ID ?? DEMO_TENANT_ID, { serialNumber: "DEMO-ALREADY-0001", groupTag: "Spare" });
      // A deployment profile targets the demo CSV's group tag, so an order followed until
      // profileAssigned becomes ready; a batch with another group tag shows what happens without one.
      simulator.targetProfile(env.DEFAULT_TENANT_ID ?? DEMO_TENANT_ID, { groupTag: "Sales" });
      simulator.registerDevice(OTHER_TENANT_ID, { serialNumber: "DEMO-OTHER-0001" });
      env.GRAPH_BASE_URL = simulator.url;
      env.GRAPH_CREDENTIAL = "simulator";
      env.DEFAULT_TENANT_ID ??= DEMO_TENANT_ID;
      env.FOLLOW_UP_FIRST_DELAY_MS ??= "3000";
    }

    const config = loadConfig(env);
    // Before the services, so the clients they build already report to it; off without a connection string.
    const telemetry = await startTelemetry(config.telemetry);
    if (telemetry.enabled) stops.push(stopTelemetry);
    const services = await createServices(config, appLogger());
    const apiKey = env.DEV_PARTNER_API_KEY ?? DEFAULT_DEV_API_KEY;
    await seedDemoPartner(services.partners, [config.graph.defaultTenantId ?? DEMO_TENANT_ID], apiKey);
    const host = await startDevHost({ services, port: Number(env.PORT ?? 7071) });
    stops.push(host.stop);

    const api = `${host.url}/${host.hostSettings.routePrefix}`;
    console.log(
      [
        "",
        "autopilot-import is running",
        `  API            ${api}/imports`,
        `  Dashboard      ${api}/dashboard (enter the API key)`,
        `  Storage        ${azurite ? `Azurite in memory (queue :${azurite.ports.queue}, table :${azurite.ports.table})` : "configured storage account"}`,
        `  Graph          ${simulator ? `simulator at ${simulator.url} (tenant ${config.graph.defaultTenantId})` : config.graph.baseUrl}`,
        `  Telemetry      ${telemetry.enabled ? "Application Insights (OpenTelemetry)" : "off (APPLICATIONINSIGHTS_CONNECTION_STRING not set)"}`,
        `  Partner        'demo', for tenant ${config.graph.defaultTenantId ?? DEMO_TENANT_ID}, API key ${apiKey === DEFAULT_DEV_API_KEY ? "(the development key below)" : "from DEV_PARTNER_API_KEY"}`,
        "",
        "Try it:",
        ...(apiKey === DEFAULT_DEV_API_KEY ? [`  export API_KEY=${DEFAULT_DEV_API_KEY}`] : ["  export API_KEY=<your DEV_PARTNER_API_KEY>"]),
        `  curl -si -X POST ${api}/imports -H "x-api-key: $API_KEY" -H 'content-type: text/csv' --data-binary @examples/devices.csv`,
        `  curl -s ${api}/imports/<id> -H "x-api-key: $API_KEY"`,
        `  curl -s '${api}/imports/<id>/devices?status=failed' -H "x-api-key: $API_KEY"`,
        "",
        "Ctrl-C stops everything.",
      ].join("\n"),
    );
  } catch (error) {
    await stopAll();
    if (error instanceof SettingsError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log("\nstopping…");
    await stopAll();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
