// XML namespaces used across the server (RFC 6120, RFC 6121 and the XEPs each constant names).
export const NS = {
  CLIENT: 'jabber:client',
  SERVER: 'jabber:server',
  STREAM: 'http://etherx.jabber.org/streams',
  STREAMS: 'urn:ietf:params:xml:ns:xmpp-streams',
  STANZAS: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  TLS: 'urn:ietf:params:xml:ns:xmpp-tls',
  SASL: 'urn:ietf:params:xml:ns:xmpp-sasl',
  BIND: 'urn:ietf:params:xml:ns:xmpp-bind',
  SESSION: 'urn:ietf:params:xml:ns:xmpp-session',
  SASL_CB: 'urn:xmpp:sasl-cb:0', // XEP-0440
  SASL2: 'urn:xmpp:sasl:2', // XEP-0388
  BIND2: 'urn:xmpp:bind:0', // XEP-0386
  FAST: 'urn:xmpp:fast:0', // XEP-0484
  DISCO_INFO: 'http://jabber.org/protocol/disco#info',
  DISCO_ITEMS: 'http://jabber.org/protocol/disco#items',
  PING: 'urn:xmpp:ping', // XEP-0199
  VERSION: 'jabber:iq:version', // XEP-0092
  TIME: 'urn:xmpp:time', // XEP-0202
  DELAY: 'urn:xmpp:delay', // XEP-0203
} as const;
