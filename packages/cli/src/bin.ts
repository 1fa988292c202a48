#!/usr/bin/env node
import { main } from "./program.js";

const code = await main(process.argv);
process.exitCode = code;
// Should a connection or timer outlive the command, do not hang: exit once all else is done.
setTimeout(() => process.exit(code), 2_000).unref();
