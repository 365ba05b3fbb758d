// Helpers for the XEP-0357 tests: an app server's push service as a real XEP-0114 component on the server's
// component listener (it receives the publish IQs and answers them as the test says), enable/disable requests,
// and the summary form of a notification read back as a record.
import assert from 'node:assert/strict';
import type { Element } from '../../src/sdk.js';
import { handshakeDigest } from '../../src/interface/component/component-connection.js';
import { RawClient } from '../../test/support/raw-client.js';
import { parseStanza } from '../../test/support/stanza-match.js';

export const NS_PUSH = 'urn:xmpp:push:0';
export const APP_SECRET = 'app-server-secret';

/** The push service of an app server: a component for `domain` that answers each publish. */
export class AppServer {
  private constructor(readonly c: RawClient, readonly domain: string) {}

  static async connect(port: number, domain: string): Promise<AppServer> {
    const c = await RawClient.connect(port);
    c.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}'>`);
    const header = (await c.expect(/<stream:stream\b[^>]*>/))[0];
    const id = /\bid=["']([^"']+)["']/.exec(header)![1]!;
    c.send(`<handshake>${handshakeDigest(id, APP_SECRET)}</handshake>`);
    await c.expect(/<handshake\s*\/>|<handshake><\/handshake>/);
    return new AppServer(c, domain);
  }

  /** The next publish IQ; answered with a result, or with the error condition given. */
  async nextPublish(answer: { error?: string } = {}, timeoutMs = 10_000): Promise<Element> {
    const iq = parseStanza((await this.c.expect(/<iq\b[\s\S]*?<\/iq>/, timeoutMs))[0]);
    const reply = answer.error
      ? `<iq type='error' id='${iq.attrs.id}' from='${this.domain}' to='${iq.attrs.from}'><error type='cancel'><${answer.error} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>`
      : `<iq type='result' id='${iq.attrs.id}' from='${this.domain}' to='${iq.attrs.from}'/>`;
    this.c.send(reply);
    return iq;
  }

  /** Assert nothing else was published within `ms`. */
  async nothingWithin(ms: number): Promise<void> {
    await assert.rejects(this.c.expect(/<iq\b[\s\S]*?<\/iq>/, ms), /timed out|timeout/i, 'no further notification');
  }
}

/** The publish's node and the summary form's fields, as { node, FORM_TYPE: ..., 'message-count': ... }. */
export function summaryOf(iq: Element): { node: string; fields: Record<string, string>; options: Record<string, string> | null; optionsType?: string } {
  const pubsub = iq.getChild('pubsub', 'http://jabber.org/protocol/pubsub')!;
  const publish = pubsub.getChild('publish')!;
  const form = publish.getChild('item')!.getChild('notification', NS_PUSH)!.getChild('x', 'jabber:x:data')!;
  const fieldsOf = (x: Element) => Object.fromEntries(x.getChildren('field').map((f) => [f.attrs.var as string, f.getChildText('value') ?? '']));
  const opts = pubsub.getChild('publish-options')?.getChild('x', 'jabber:x:data');
  return { node: publish.attrs.node as string, fields: fieldsOf(form), options: opts ? fieldsOf(opts) : null, optionsType: opts?.attrs.type as string | undefined };
}

let seq = 0;
/** Send an enable/disable (raw payload) and return the IQ answer. */
export function pushIq(c: RawClient, payload: string, to = ''): Promise<string> {
  const id = `push${++seq}`;
  return c.iq(id, `<iq type='set' id='${id}'${to ? ` to='${to}'` : ''}>${payload}</iq>`);
}

export const enable = (jid: string, node: string, secret?: string) =>
  `<enable xmlns='${NS_PUSH}' jid='${jid}' node='${node}'>${secret === undefined ? '' : `<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>${secret}</value></field></x>`}</enable>`;
