#!/usr/bin/env node
// xmppd command line; the compiled sources live in dist/ (`npm run build`). While bin/build-if-stale.js
// rewrites dist/ (npm start, npm test), wait for it: a half-written build must never be loaded.
import { buildLockHolder, waitForBuild } from './build-lock.js';

const lock = new URL('../dist/.build-lock', import.meta.url);
if (buildLockHolder(lock) !== null) await waitForBuild(lock, 'xmppd: a build of dist/ is running; waiting for it to finish');
const { main } = await import('../dist/src/cli/main.js');
await main(process.argv);
