# Resource conflict: a second slixmpp client binds the full JID a first one already holds. The first
# should get a <conflict/> stream error and be disconnected; the second keeps working. Usage:
#   conflict.py <port> <full-jid> <password>
import asyncio
import sys

from common import TestClient, emit, first_event, login, run

port, jid, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]


async def main():
    first = TestClient(jid, password, port, plugins=['xep_0199'])
    second = TestClient(jid, password, port, plugins=['xep_0199'])
    errors = []
    first.add_event_handler('stream_error', lambda e: errors.append({'condition': e['condition'], 'text': e['text']}))
    if not await login(first):
        return
    # Listen before the second login, which is what triggers the conflict.
    ended = asyncio.ensure_future(first_event(first, ['disconnected'], 10))
    if not await login(second):
        return
    await ended
    emit('first_disconnected', stream_errors=errors)
    rtt = await second['xep_0199'].ping(second.boundjid.domain, timeout=5)
    emit('second_ping', ok=isinstance(rtt, float), jid=str(second.boundjid))
    await second.stop()

run(main, 20)
