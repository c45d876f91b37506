#!/usr/bin/env node
import { main } from "./main.js";

// Exit once output is flushed, with the command's code.
process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
