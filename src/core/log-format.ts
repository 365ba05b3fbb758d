// The readable form of a log record, for a terminal: "12:00:01.234 INFO  authentication failed  account=bob@localhost
// ip=127.0.0.1 reason=...", level coloured, message bold, fields as key=value (quoted when they hold spaces).
type Rec = Record<string, unknown>;

const COLOURS: Record<string, string> = { debug: '\x1b[90m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m' };
const RESET = '\x1b[0m';
const paint = (on: boolean, code: string, s: string) => (on ? `${code}${s}${RESET}` : s);

function value(v: unknown): string {
  if (typeof v === 'string') return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function formatLine(rec: Rec, colour: boolean): string {
  const { time, level, msg, err, ...rest } = rec;
  const l = String(level);
  const fields = Object.entries(rest).filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${paint(colour, '\x1b[2m', `${k}=`)}${value(v)}`).join(' ');
  const e = err as { message?: string; stack?: string } | undefined;
  const errText = e ? ` ${paint(colour, '\x1b[2m', 'err=')}${value(e.message ?? String(err))}` : '';
  const stack = e?.stack && l === 'error' ? `\n${e.stack.split('\n').slice(1).join('\n')}` : '';
  return `${String(time).slice(11, 23)} ${paint(colour, COLOURS[l] ?? '', l.toUpperCase().padEnd(5))} ${paint(colour, '\x1b[1m', String(msg))}${fields ? `  ${fields}` : ''}${errText}${stack}`;
}
