# slixmpp cancels its registration (XEP-0077 §3.2, xep_0077.cancel_registration) while a second session
# of the same account is online; both streams should end with a <not-authorized/> stream error, after
# the result. Usage: cancel.py <port> <full-jid> <password> <second-resource>
# Reports: session_start (x2), cancelled | cancel_error, main_disconnected, other_disconnected.
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'test', 'e2e', 'slixmpp'))

from slixmpp import JID  # noqa: E402
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402

from common import TestClient, emit, first_event, iq_error, login, run  # noqa: E402

port, jid, password, second = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


async def main():
    main_client = TestClient(jid, password, port, plugins=['xep_0077'])
    other = TestClient(f'{JID(jid).bare}/{second}', password, port)
    errors = {'main': [], 'other': []}
    for name, client in (('main', main_client), ('other', other)):
        client.add_event_handler('stream_error', lambda e, n=name: errors[n].append({'condition': e['condition'], 'text': e['text']}))
    if not await login(main_client) or not await login(other):
        return
    # Listen before asking: the streams end right after the answer.
    ended = [asyncio.ensure_future(first_event(c, ['disconnected'], 10)) for c in (main_client, other)]
    try:
        result = await main_client['xep_0077'].cancel_registration(timeout=5)
        emit('cancelled', type=result['type'])
    except (IqError, IqTimeout) as e:
        emit('cancel_error', **iq_error(e))
    await asyncio.gather(*ended)
    emit('main_disconnected', stream_errors=errors['main'])
    emit('other_disconnected', stream_errors=errors['other'])

run(main, 20)
