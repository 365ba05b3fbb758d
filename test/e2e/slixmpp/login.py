# slixmpp logs in to xmppd with one forced SASL mechanism, over STARTTLS or direct TLS (XEP-0368),
# binds a resource and reports the outcome. Usage:
#   login.py <port> <full-jid> <password> <mech|auto> <starttls|direct>
import sys

from common import TestClient, emit, login, run

port, jid, password, mech, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


async def main():
    c = TestClient(jid, password, int(port), mech=None if mech == 'auto' else mech, direct_tls=mode == 'direct')
    if await login(c):
        # The bound session is usable: the server answers a ping (XEP-0199) on it.
        c.register_plugin('xep_0199')
        rtt = await c['xep_0199'].ping(c.boundjid.domain, timeout=5)
        emit('ping', ok=rtt is not None)
    await c.stop()

run(main, 15)
