# slixmpp with its XEP-0115 plugin at its defaults (sha-1, node http://slixmpp.com/ver/<version>) and a PEP
# interest (XEP-0118 User Tune adds "http://jabber.org/protocol/tune+notify"), as a client that follows its
# contacts' tunes is set up: it sends available presence with caps and answers the server's disco#info on
# node#ver itself. It also reports the server's caps from the stream features, which slixmpp verifies on its
# own. It stays online until the server sends it a message. Usage: caps.py <port> <full-jid> <password>
import asyncio
import sys

from common import TestClient, emit, login, run

port, jid, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]


async def poll(fn, tries=50):
    for _ in range(tries):
        v = await fn()
        if v:
            return v
        await asyncio.sleep(0.1)
    return None


async def main():
    c = TestClient(jid, password, port, plugins=['xep_0030', 'xep_0115', 'xep_0163', 'xep_0118'])
    released = asyncio.get_running_loop().create_future()
    c.add_event_handler('message', lambda m: released.done() or released.set_result(m['body']))
    if not await login(c):
        return
    caps = c['xep_0115']
    # slixmpp computes its own verification string in the background once the interest is registered
    ver = await poll(lambda: caps.get_verstring(c.boundjid.full))
    c.send_presence()
    emit('presence_sent', node=caps.caps_node, ver=ver)
    # the server's <c/> stream feature: slixmpp asks the server's disco#info and keeps it only if it verifies
    emit('server_caps', ver=await poll(lambda: caps.get_verstring(c.boundjid.domain)))
    emit('released', body=await asyncio.wait_for(released, 15))
    await c.stop()

run(main, 20)
