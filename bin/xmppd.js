#!/usr/bin/env node
// xmppd command line; the compiled sources live in dist/ (`npm run build`).
import { main } from '../dist/src/cli/main.js';
await main(process.argv);
