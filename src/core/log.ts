// Structured logger: one JSON object per line (or a readable, coloured line on a terminal: `start
// --log-format text|json` chooses), child loggers per host/module.
// Never pass passwords, SASL payloads or tokens to it; message bodies only at debug.
import { formatLine } from './log-format.js';

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

/** The level a logger and all its children share, so a config reload changes it everywhere at once. */
interface LevelHolder { level: LogLevel; min: number }

export class Logger {
  private readonly holder: LevelHolder;
  constructor(
    level: LogLevel = 'info',
    private readonly bindings: LogFields = {},
    private readonly sink: LogSink = (line) => process.stderr.write(line + '\n'),
    private readonly pretty = process.stderr.isTTY === true,
    holder?: LevelHolder,
    /** ANSI colours in pretty lines (a terminal that did not ask for NO_COLOR). */
    private readonly colour = pretty && process.stderr.isTTY === true && !process.env.NO_COLOR,
  ) {
    this.holder = holder ?? { level, min: RANK[level] };
  }

  get level(): LogLevel {
    return this.holder.level;
  }

  /** Change the level of this logger, its parent and every child (they share it). */
  setLevel(level: LogLevel): void {
    this.holder.level = level;
    this.holder.min = RANK[level];
  }

  child(bindings: LogFields): Logger {
    return new Logger(this.holder.level, { ...this.bindings, ...bindings }, this.sink, this.pretty, this.holder, this.colour);
  }

  isDebug(): boolean {
    return this.holder.min <= RANK.debug;
  }

  debug(msg: string, fields?: LogFields): void { if (this.holder.min <= 10) this.write('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { if (this.holder.min <= 20) this.write('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { if (this.holder.min <= 30) this.write('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { if (this.holder.min <= 40) this.write('error', msg, fields); }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    const rec: LogFields = { time: new Date().toISOString(), level, msg, ...this.bindings, ...fields };
    if (rec.err instanceof Error) rec.err = { message: rec.err.message, stack: rec.err.stack };
    if (this.pretty) this.sink(formatLine(rec, this.colour));
    else this.sink(JSON.stringify(rec));
  }
}

/** The server's logger: readable lines on a terminal (or with format 'text'), JSON lines otherwise. */
export function serverLogger(level: LogLevel, format?: LogFormat, bindings: LogFields = {}): Logger {
  return new Logger(level, bindings, undefined, format ? format === 'text' : process.stderr.isTTY === true);
}

export const silentLogger = new Logger('silent');
