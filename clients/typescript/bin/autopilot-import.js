#!/usr/bin/env node
// The built command line (npm run build at the repository root, or in clients/typescript).
import("../dist/cli/run.js").catch((error) => {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes("run.js")) throw error;
  console.error("autopilot-import is not built yet: run npm run build first.");
  process.exit(2);
});
