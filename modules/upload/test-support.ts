// Helpers for the upload tests: a server with an http listener and the upload module, slot requests over
// a real c2s stream, and the slot's URLs.
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../../test/support/harness.js';
import { RawClient } from '../../test/support/raw-client.js';
import { parseStanza } from '../../test/support/stanza-match.js';

export const NS_UPLOAD = 'urn:xmpp:http:upload:0';

/** `extra`: more top-level config overrides (acl, access_rules, listen). */
export function startUploadServer(upload: Record<string, unknown> = {}, opts: { dir?: string; extra?: Record<string, unknown> } = {}): Promise<TestServer> {
  return startTestServer({
    listen: [
      { port: 0, ip: '127.0.0.1', type: 'c2s' },
      { port: 0, ip: '127.0.0.1', type: 'http' },
    ],
    modules: { disco: {}, roster: {}, upload },
    ...opts.extra,
  }, opts.dir ? { dir: opts.dir } : {});
}

let seq = 0;

/** Send an IQ get/set to `to` and return the answer's text. */
export function iq(c: RawClient, payload: string, to: string, type: 'get' | 'set' = 'get'): Promise<string> {
  const id = `up${++seq}`;
  return c.iq(id, `<iq type='${type}' id='${id}' to='${to}'>${payload}</iq>`);
}

const attr = (v: string) => v.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;');

/** A slot request (XEP-0363 §4); the answer's text. */
export function requestSlot(c: RawClient, service: string, filename: string, size: number, type?: string): Promise<string> {
  const ct = type === undefined ? '' : ` content-type='${attr(type)}'`;
  return iq(c, `<request xmlns='${NS_UPLOAD}' filename='${attr(filename)}' size='${size}'${ct}/>`, service);
}

/** The PUT and GET URLs of a slot answer. */
export function slotUrls(answer: string): { put: string; get: string } {
  const slot = parseStanza(answer).getChild('slot', NS_UPLOAD);
  assert.ok(slot, `a slot: ${answer}`);
  return { put: slot.getChild('put')!.attrs.url as string, get: slot.getChild('get')!.attrs.url as string };
}

/** Request a slot and upload `body` to it; the slot's URLs and the PUT's status. */
export async function upload(c: RawClient, service: string, filename: string, body: Buffer, type: string): Promise<{ put: string; get: string; status: number }> {
  const urls = slotUrls(await requestSlot(c, service, filename, body.length, type));
  const res = await put(urls.put, body, type);
  await res.arrayBuffer();
  return { ...urls, status: res.status };
}

export async function login(t: TestServer, user: string, host: string, resource = 'up'): Promise<RawClient> {
  return (await RawClient.login(t.c2sPort, user, `pw-${user}`, resource, { host })).c;
}

/** PUT `body` with a Content-Type (and its Content-Length), as an upload client does. */
export function put(url: string, body: Buffer, type: string): Promise<Response> {
  return fetch(url, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': type } });
}
