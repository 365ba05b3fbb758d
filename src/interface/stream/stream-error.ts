// A stream error the peer sent (RFC 6120 §4.9.2): its defined condition and text, for the log.
import type { Element } from '@xmpp/xml';
import { NS } from '../../core/ns.js';

export function peerStreamError(el: Element): { condition: string; text: string | undefined } {
  const condition = el.getChildElements().find((c) => c.attrs.xmlns === NS.STREAMS && c.name !== 'text')?.name ?? 'undefined-condition';
  return { condition, text: el.getChildText('text', NS.STREAMS) ?? undefined };
}
