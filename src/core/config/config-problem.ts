// One finding of a configuration check: what is wrong (or worth knowing), where in which file, and the
// source line it is on, formatted the same way by `xmppd check-config`, `xmppd config check` and start.
import type { SourcePosition } from './yaml-source.js';

/** error: start refuses the file; warning: it starts, but something will not work as expected; ok: checked and fine. */
export type Severity = 'error' | 'warning' | 'ok';

export interface ConfigProblem {
  severity: Severity;
  /** The config file ('' for the embedded default). */
  file: string;
  /** YAML path, e.g. listen[0].adress; '' for the file as a whole. */
  yamlPath: string;
  problem: string;
  at?: SourcePosition;
}

/**
 *   /etc/xmppd.yaml: listen[0].adress: unknown option (known: port, ip, type, websocket, bosh)
 *     at line 12, column 19:
 *       12 |   - { port: 5280, adress: 127.0.0.1, type: http }
 *          |                   ^
 */
export function formatProblem(p: ConfigProblem, withSeverity = false): string {
  const head = `${withSeverity ? `${p.severity}: ` : ''}${p.file || 'embedded default'}: ${p.yamlPath || '(top level)'}: ${p.problem}`;
  if (!p.at || p.severity === 'ok') return head;
  const n = String(p.at.line);
  const pad = ' '.repeat(n.length);
  // Tabs keep their width under the caret so that it lines up in a terminal.
  const under = p.at.source.slice(0, p.at.column - 1).replace(/[^\t]/g, ' ');
  return `${head}\n  at line ${p.at.line}, column ${p.at.column}:\n    ${n} | ${p.at.source}\n    ${pad} | ${under}^`;
}

export const errorsOf = (problems: ConfigProblem[]) => problems.filter((p) => p.severity === 'error');
