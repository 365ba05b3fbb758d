// Runs a file's end-to-end tests on every virtual host of config/test.yaml (issue 9): the same tests, once
// per host, against one server per file, with users and addresses of that host.
import { describe } from 'node:test';
import { HOSTS } from './harness.js';

export { HOSTS };

/** Define the tests `define` declares once per host, each set in a suite named "on <host>". */
export function forEachHost(define: (host: string) => void): void {
  for (const host of HOSTS) describe(`on ${host}`, () => define(host));
}

/** `text` with regular-expression metacharacters escaped (a host name in a pattern: example\.test). */
export const escapeRe = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
