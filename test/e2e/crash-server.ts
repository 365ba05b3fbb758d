// Child process for the crash tests (test/support/crash-child.ts): starts xmppd from the YAML file named by $XMPPD_CRASH_CONFIG
// and prints "ready <c2s port>" on stdout; it runs until it is killed. Does nothing without that
// variable (e.g. when a test runner picks the file up).
import { loadConfigFile } from '../../src/core/config/load-config.js';
import { Logger } from '../../src/core/log.js';
import { startServer } from '../../src/main.js';

const file = process.env.XMPPD_CRASH_CONFIG;
if (file !== undefined) {
  try {
    const config = loadConfigFile(file);
    const server = await startServer(config, { log: new Logger(config.log_level) });
    const port = server.listeners.bound.find((l) => l.type === 'c2s')?.port;
    process.stdout.write(`ready ${port}\n`);
  } catch (err) {
    console.error(err);
    process.exit(3);
  }
}
