// Namespaces of XEP-0045 Multi-User Chat and the XEPs the MUC service uses with it (0004, 0203, 0410, 0421).
export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const NS_ROOMCONFIG = 'http://jabber.org/protocol/muc#roomconfig';
export const NS_ROOMINFO = 'http://jabber.org/protocol/muc#roominfo';
export const NS_DATA = 'jabber:x:data';
export const NS_DELAY = 'urn:xmpp:delay';
export const NS_OCCUPANT_ID = 'urn:xmpp:occupant-id:0';
export const NS_PING = 'urn:xmpp:ping';
export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
/** The service keeps the ids of the messages it reflects and relays (XEP-0045 §6.2, muc#stable_id). */
export const NS_STABLE_ID = 'http://jabber.org/protocol/muc#stable_id';
