# slixmpp changes its account's password in-band (XEP-0077 §3.3, xep_0077.change_password).
# Usage: change_password.py <port> <full-jid> <password> <new-password> <account|server>
# ('server' addresses the IQ to the domain, as XEP-0077 Example 18 does; 'account' sends it without 'to').
# Reports: session_start | auth_failed, then password_changed | change_error.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'test', 'e2e', 'slixmpp'))

from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402

from common import TestClient, emit, iq_error, login, run  # noqa: E402

port, jid, password, new_password, target = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]


async def main():
    c = TestClient(jid, password, port, plugins=['xep_0077'])
    if not await login(c):
        return
    to = c.boundjid.domain if target == 'server' else None
    try:
        await c['xep_0077'].change_password(new_password, jid=to, timeout=5)
        emit('password_changed')
    except (IqError, IqTimeout) as e:
        emit('change_error', **iq_error(e))
    await c.stop()

run(main, 15)
