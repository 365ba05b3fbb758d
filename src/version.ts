// The server's version (package.json), for the CLI's --version, the log and disco/version answers; a module of
// its own so the CLI reads it without loading the server.
import { readFileSync } from 'node:fs';

export const VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
