// Helpers for the adhoc module's tests (not loaded by the module): XEP-0050 requests over raw XML and
// reading the <command/> answers.
import { RawClient } from '../../test/support/raw-client.js';

export const NS_COMMANDS = 'http://jabber.org/protocol/commands';
export const ADMIN = 'http://jabber.org/protocol/admin';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

let seq = 0;

/** Wait for the IQ answering `id` (self-closing or not). */
export async function expectIq(c: RawClient, id: string, timeoutMs?: number): Promise<string> {
  const re = new RegExp(`<iq\\b[^>]*\\bid=["']${id}["'][^>]*?(?:/>|>[\\s\\S]*?</iq>)`);
  return (await c.expect(re, timeoutMs))[0];
}

/** Send an IQ and return its answer. */
export async function ask(c: RawClient, body: string, attrs = "type='set' to='localhost'"): Promise<string> {
  const id = `q${++seq}`;
  c.send(`<iq ${attrs} id='${id}'>${body}</iq>`);
  return expectIq(c, id);
}

/** A jabber:x:data submission: each field one value or several. */
export function submit(fields: Record<string, string | string[]>, type = 'submit'): string {
  const f = Object.entries(fields)
    .map(([k, v]) => `<field var='${esc(k)}'>${(Array.isArray(v) ? v : [v]).map((x) => `<value>${esc(x)}</value>`).join('')}</field>`)
    .join('');
  return `<x xmlns='jabber:x:data' type='${type}'>${f}</x>`;
}

export interface CommandOpts { sessionid?: string; action?: string; payload?: string; lang?: string; iqAttrs?: string }

/** Send a <command/> for `node` and return the IQ answer. */
export function command(c: RawClient, node: string, o: CommandOpts = {}): Promise<string> {
  const attrs = [`xmlns='${NS_COMMANDS}'`, `node='${esc(node)}'`];
  if (o.sessionid !== undefined) attrs.push(`sessionid='${esc(o.sessionid)}'`);
  if (o.action !== undefined) attrs.push(`action='${esc(o.action)}'`);
  if (o.lang !== undefined) attrs.push(`xml:lang='${esc(o.lang)}'`);
  const body = o.payload ? `<command ${attrs.join(' ')}>${o.payload}</command>` : `<command ${attrs.join(' ')}/>`;
  return ask(c, body, o.iqAttrs);
}

export const attr = (el: string, name: string): string | undefined => new RegExp(`\\b${name}=["']([^"']*)["']`).exec(el)?.[1];

/** The opening tag of the <command/> in an answer. */
export function commandTag(reply: string): string {
  const m = /<command\b[^>]*>/.exec(reply);
  if (!m) throw new Error(`no <command/> in ${reply}`);
  return m[0];
}

export const statusOf = (reply: string) => attr(commandTag(reply), 'status');
export const sessionOf = (reply: string) => attr(commandTag(reply), 'sessionid')!;

/** Notes of a completed command, as [type, text]. */
export function notes(reply: string): Array<[string, string]> {
  return [...reply.matchAll(/<note\b[^>]*type=["'](\w+)["'][^>]*>([^<]*)<\/note>/g)].map((m) => [m[1]!, m[2]!]);
}

/** The values of a field of a form in the answer. */
export function fieldValues(reply: string, v: string): string[] {
  const m = new RegExp(`<field\\b[^>]*\\bvar=["']${v.replace(/[#.]/g, '\\$&')}["'][^>]*?(?:/>|>([\\s\\S]*?)</field>)`).exec(reply);
  if (!m) throw new Error(`no field ${v} in ${reply}`);
  return [...(m[1] ?? '').matchAll(/<value>([^<]*)<\/value>/g)].map((x) => x[1]!);
}

/** The <error/> of an error answer: its type, defined condition and commands-namespace condition. */
export function errorOf(reply: string): { type?: string; condition?: string; app?: string; text: string } {
  const e = /<error\b[^>]*>([\s\S]*?)<\/error>/.exec(reply);
  if (!e) throw new Error(`not an error: ${reply}`);
  const type = attr(e[0], 'type');
  const condition = /<([a-z-]+) xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/.exec(e[1]!)?.[1];
  const app = new RegExp(`<([a-z-]+) xmlns=["']${NS_COMMANDS}["']\\/>`).exec(e[1]!)?.[1];
  return { type, condition, app, text: e[1]! };
}

/** Can this account (on `host`) log in (SCRAM-SHA-256 over STARTTLS)? */
export async function canLogin(port: number, user: string, password: string, host = 'localhost'): Promise<boolean> {
  try {
    const { c } = await RawClient.login(port, user, password, undefined, { presence: false, host });
    c.close();
    return true;
  } catch (err) {
    if (/login failed/.test((err as Error).message)) return false;
    throw err;
  }
}

export { until as eventually } from '../../test/support/until.js';
