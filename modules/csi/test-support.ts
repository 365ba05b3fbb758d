// Helpers for the XEP-0352 tests: mutual subscriptions set through the roster service, CSI nonzas,
// the module's counters, and "everything up to this stanza" as elements.
import assert from 'node:assert/strict';
import { Jid, type Element, type RosterApi } from '../../src/sdk.js';
import type { TestServer } from '../../test/support/harness.js';
import type { RawClient } from '../../test/support/raw-client.js';
import { roundTrip, stanzas } from '../carbons/test-support.js';

export const NS_CSI = 'urn:xmpp:csi:0';

/** Make two accounts of `host` subscribed to each other's presence (both ways), as after the protocol dance. */
export async function befriend(t: TestServer, a: string, b: string, host = 'localhost'): Promise<void> {
  const roster = t.server.core.services.get<RosterApi>(host, 'roster');
  assert.ok(roster, 'the roster service runs');
  const [ja, jb] = [Jid.parse(`${a}@${host}`), Jid.parse(`${b}@${host}`)];
  const both = (jid: Jid) => () => ({ jid: jid.toString(), groups: [], subscription: 'both' as const, ask: false, approved: false, pendingIn: false });
  await roster.update(ja, jb, both(jb));
  await roster.update(jb, ja, both(ja));
}

/** Say <inactive/> and wait until the server has taken it (the ping after it is answered in order). */
export async function goInactive(c: RawClient): Promise<void> {
  c.send(`<inactive xmlns='${NS_CSI}'/>`);
  assert.equal(await roundTrip(c), '', 'nothing was pending before the client went inactive');
}

/** The value of xmppd_csi_stanzas_total for one host and event. */
export async function counted(t: TestServer, event: string, host = 'localhost'): Promise<number> {
  const metric = t.server.core.metrics.registry.getSingleMetric('xmppd_csi_stanzas_total');
  if (!metric) return 0;
  const v = (await metric.get()).values.find((x) => x.labels.host === host && x.labels.event === event);
  return v?.value ?? 0;
}

/** Wait for the stanza whose id is `id`; returns every stanza that came before it, and it, as elements. */
export async function upTo(c: RawClient, id: string): Promise<Element[]> {
  const m = await c.expect(new RegExp(`^[\\s\\S]*?<(message|iq|presence)\\b[^>]*\\bid=["']${id}["'][^>]*?(?:/>|>[\\s\\S]*?</\\1>)`));
  return stanzas(m[0]);
}

/** A short, comparable label for a received stanza: presence:<from>:<status>, chatstate:<from>:<state>... */
export function label(el: Element): string {
  const from = el.attrs.from as string;
  if (el.name === 'presence') return `presence:${from}:${el.attrs.type ?? el.getChildText('status') ?? ''}`;
  if (el.name === 'iq') return `iq:${from}:${el.attrs.id}`;
  const state = el.getChildElements().find((c) => c.getNS() === 'http://jabber.org/protocol/chatstates');
  if (state) return `chatstate:${from}:${state.name}`;
  const receipt = el.getChild('received', 'urn:xmpp:receipts');
  if (receipt) return `receipt:${from}:${receipt.attrs.id}`;
  const body = el.getChildText('body');
  return body !== null ? `body:${from}:${body}` : `message:${from}:${el.attrs.id}`;
}
