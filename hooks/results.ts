// Special hook results: STOP ends the chain keeping the current value; DROP discards the stanza.
export const STOP: unique symbol = Symbol.for('xmppd.hook.stop');
export const DROP: unique symbol = Symbol.for('xmppd.hook.drop');
