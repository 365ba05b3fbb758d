# Two slixmpp clients on one xmppd: alice sends a chat message to bob's bare JID, bob answers to
# alice's full JID, then alice sends IQs to bob's full JID that bob's own plugins answer (version,
# ping). Usage: chat.py <port> <alice-full-jid> <alice-password> <bob-full-jid> <bob-password>
import asyncio
import sys

from common import TestClient, emit, iq_error, login, run

port = int(sys.argv[1])
alice_jid, alice_pw, bob_jid, bob_pw = sys.argv[2:6]


def inbox(client):
    queue = asyncio.Queue()
    client.add_event_handler('message', lambda m: queue.put_nowait(m))
    return queue


def message_fields(m):
    return {'from': str(m['from']), 'to': str(m['to']), 'type': m['type'], 'body': m['body'], 'id': m['id']}


async def main():
    alice = TestClient(alice_jid, alice_pw, port, mech='SCRAM-SHA-1-PLUS', plugins=['xep_0092', 'xep_0199'])
    bob = TestClient(bob_jid, bob_pw, port, plugins=['xep_0092', 'xep_0199'])
    alice_in, bob_in = inbox(alice), inbox(bob)
    if not (await login(alice) and await login(bob)):
        return
    # Available presence makes each a target for bare-JID messages (RFC 6121 §8.5.2.1.1); a ping
    # round trip afterwards guarantees the server has processed it (one session is handled in order).
    for c in (alice, bob):
        c.send_presence()
        await c['xep_0199'].ping(c.boundjid.domain, timeout=5)

    alice.send_message(mto=bob.boundjid.bare, mbody='hello bob, ça va? €', mtype='chat')
    emit('bob_received', **message_fields(await asyncio.wait_for(bob_in.get(), 5)))

    bob.send_message(mto=alice.boundjid.full, mbody='hi alice', mtype='chat')
    emit('alice_received', **message_fields(await asyncio.wait_for(alice_in.get(), 5)))

    # IQs between two clients: bob's slixmpp answers them itself.
    try:
        v = await alice['xep_0092'].get_version(bob.boundjid.full, timeout=5)
        emit('bob_version', type=v['type'], sender=str(v['from']), name=v['software_version']['name'],
             version=v['software_version']['version'])
    except Exception as e:  # noqa: BLE001
        emit('bob_version', **iq_error(e))
    try:
        rtt = await alice['xep_0199'].ping(bob.boundjid.full, timeout=5)
        emit('bob_ping', ok=isinstance(rtt, float))
    except Exception as e:  # noqa: BLE001
        emit('bob_ping', ok=False, **iq_error(e))

    await asyncio.gather(alice.stop(), bob.stop())

run(main, 20)
