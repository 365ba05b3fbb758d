// Room for N sessions from one source address (the harness's generator connects from 127.0.0.1 only): enough
// file descriptors for generator and server, and enough ephemeral ports (one per connection to one server port).
// Root only; changes are reported on stderr and the port range is put back by restore().
import { readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const RANGE = '/proc/sys/net/ipv4/ip_local_port_range';
const RESERVED = '/proc/sys/net/ipv4/ip_local_reserved_ports';
// Harness and test ports (ejabberd 25xxx, prosody 26xxx, xmppd 27xxx, NATS 4222, XMPP 5222/5269/5280) stay
// out of the widened ephemeral range, so servers that bind them later in a run still can.
const KEEP_FREE = '4222,5222,5269,5280,25000-27999';

const sh = (cmd) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
/** Whether this process may raise its hard open-files limit (root with CAP_SYS_RESOURCE; containers often drop it). */
const canRaiseFds = (n) => sh(`prlimit --nofile=${n}:${n} -- true`).status === 0;

/**
 * The most sessions one generator process and one server process can hold here: unlimited when the open-files
 * limit can be raised, else the hard limit less room for the process's other files.
 */
export function maxSessions(wanted) {
  const hard = Number(sh('ulimit -Hn').stdout.trim()) || 0;
  if (hard >= wanted + 1000 || canRaiseFds(wanted + 1000)) return { max: Infinity, hard };
  return { max: Math.max(0, Math.floor((hard - 1000) / 1000) * 1000), hard };
}

/**
 * @param {number} sessions  the largest number of sessions that will be open at once
 * @param {(msg: string) => void} say
 * @returns {{ prefix: string[], restore: () => void }} prefix: a command prefix (prlimit) for the process tree
 */
export function roomForSessions(sessions, say) {
  const none = { prefix: [], restore: () => {} };
  const needFds = sessions + 1000; // the sessions plus the process's other files (data dir, logs, pipes)
  const isRoot = process.getuid?.() === 0;
  const prefix = [];
  const softNow = Number(sh('ulimit -n').stdout.trim()) || 0, hardNow = Number(sh('ulimit -Hn').stdout.trim()) || 0;
  if (softNow < needFds) {
    if (hardNow >= needFds || canRaiseFds(needFds)) {
      prefix.push('prlimit', `--nofile=${needFds}:${Math.max(needFds, hardNow)}`, '--');
      say(`open files: ulimit -n ${softNow} -> ${needFds} for this run (prlimit)`);
    } else {
      if (softNow < hardNow) prefix.push('prlimit', `--nofile=${hardNow}:${hardNow}`, '--');
      say(`WARNING: ${sessions} sessions need ~${needFds} open files; the hard limit is ${hardNow} and cannot be raised here `
        + '(no CAP_SYS_RESOURCE): the largest idle step will fail');
    }
  }
  let restore = () => {};
  try {
    const [lo, hi] = readFileSync(RANGE, 'utf8').trim().split(/\s+/).map(Number);
    if (hi - lo + 1 < sessions + 2000) {
      if (!isRoot) { say(`WARNING: ephemeral port range ${lo}-${hi} is smaller than ${sessions} sessions (not root: left alone)`); return { prefix, restore }; }
      const reservedBefore = readFileSync(RESERVED, 'utf8').trim();
      writeFileSync(RESERVED, reservedBefore ? `${reservedBefore},${KEEP_FREE}` : KEEP_FREE);
      writeFileSync(RANGE, '1024 65535');
      say(`ephemeral ports: ${lo}-${hi} -> 1024-65535 (reserved ${KEEP_FREE}) for ${sessions} sessions from 127.0.0.1; restored afterwards`);
      restore = () => {
        try {
          if (readFileSync(RANGE, 'utf8').trim().split(/\s+/).join(' ') === '1024 65535') writeFileSync(RANGE, `${lo} ${hi}`);
          writeFileSync(RESERVED, reservedBefore || '\n');
          say(`ephemeral ports restored to ${lo}-${hi}`);
        } catch (e) { say(`WARNING: could not restore the port range: ${e.message}`); }
      };
    }
  } catch (e) { say(`WARNING: cannot read/raise the ephemeral port range: ${e.message}`); return prefix.length ? { prefix, restore } : none; }
  return { prefix, restore };
}
