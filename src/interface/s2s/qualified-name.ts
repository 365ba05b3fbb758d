// Namespace of a top-level element on a stream (Namespaces in XML §6; RFC 6120 §4.8): the stream parser
// keeps names as written, so <db:result/> is resolved against the declarations on the stream header.
import type { Element } from '@xmpp/xml';

export interface QualifiedName { local: string; ns: string | undefined }

export function qualifiedName(el: Element, streamAttrs: Record<string, string>): QualifiedName {
  const colon = el.name.indexOf(':');
  if (colon === -1) return { local: el.name, ns: el.attrs.xmlns ?? streamAttrs.xmlns };
  const key = `xmlns:${el.name.slice(0, colon)}`;
  return { local: el.name.slice(colon + 1), ns: el.attrs[key] ?? streamAttrs[key] };
}
