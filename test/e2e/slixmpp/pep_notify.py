# A contact's PEP notification with stock slixmpp: its xep_0115 and xep_0163 plugins at their defaults. The
# client registers interest in a node (add_interest: "<node>+notify" in its caps) either once logged in,
# waiting for its own caps to be recomputed ('after-login', the default), or at setup before connecting
# ('before-login': slixmpp 1.8.3 then announces a 'ver' hashed over a partial feature list), and goes
# available. The test's contact publishes after that; the client reports the notification (xep_0060
# pubsub_publish). Usage: pep_notify.py <port> <full-jid> <password> <node> [after-login|before-login]
import asyncio
import sys

from common import TestClient, emit, login, run, wait_for_caps

port, jid, password, node = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
mode = sys.argv[5] if len(sys.argv) > 5 else 'after-login'
if mode not in ('after-login', 'before-login'):
    sys.exit(f'unknown mode {mode}')


async def main():
    c = TestClient(jid, password, port, plugins=['xep_0115', 'xep_0163'])
    events = asyncio.Queue()
    c.add_event_handler('pubsub_publish', lambda m: events.put_nowait(m))
    if mode == 'before-login':
        c['xep_0163'].add_interest(node)
    if not await login(c):
        return
    if mode == 'after-login':
        before = await c['xep_0115'].get_verstring(c.boundjid.full)
        c['xep_0163'].add_interest(node)
        await wait_for_caps(c, before)
    c.send_presence()
    # the 'ver' the presence carries (slixmpp's filter reads the same stored string)
    ver = await c['xep_0115'].get_verstring(c.boundjid.full)
    emit('ready', ver=ver, node=c['xep_0115'].caps_node)
    while True:
        m = await asyncio.wait_for(events.get(), 15)
        items = m['pubsub_event']['items']
        if items['node'] == node:
            break
    item = items['substanzas'][0]
    payload = item['payload']
    emit('notified', sender=str(m['from']), node=items['node'], item=item['id'],
         payload=payload.tag if payload is not None else None, text=payload.text if payload is not None else None,
         delayed=bool(m.xml.find('{urn:xmpp:delay}delay') is not None))
    await c.stop()

run(main, 20)
