# Two slixmpp clients in a room with the xep_0045 plugin's defaults (XEP-0045): alice creates and
# configures it (the plugin's get_room_config / set_room_config), bob joins and gets the history and
# subject (join_muc_wait), they chat, alice changes the subject, bob sends alice a private message.
# Usage: muc.py <port> <alice-full-jid> <alice-password> <bob-full-jid> <bob-password> <room-jid>
import asyncio
import contextlib
import sys

from common import TestClient, emit, login, run

port = int(sys.argv[1])
alice_jid, alice_pw, bob_jid, bob_pw, room = sys.argv[2:7]


def queue_of(client, event):
    q = asyncio.Queue()
    client.add_event_handler(event, lambda m: q.put_nowait(m))
    return q


def codes(stanza):
    return sorted(int(s.get('code')) for s in stanza.xml.findall('{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}status'))


async def main():
    plugins = ['xep_0004', 'xep_0030', 'xep_0045', 'xep_0199', 'xep_0203']
    alice = TestClient(alice_jid, alice_pw, port, plugins=plugins)
    bob = TestClient(bob_jid, bob_pw, port, plugins=plugins)
    alice_gc, bob_gc = queue_of(alice, 'groupchat_message'), queue_of(bob, 'groupchat_message')
    bob_subject = queue_of(bob, 'groupchat_subject')
    alice_pm = queue_of(alice, 'message')
    if not (await login(alice) and await login(bob)):
        return
    for c in (alice, bob):
        c.send_presence()
        await c['xep_0199'].ping(c.boundjid.domain, timeout=5)

    pres, subject, occupants, history = await alice['xep_0045'].join_muc_wait(room, 'Alice', timeout=5)
    emit('alice_joined', codes=codes(pres), affiliation=pres['muc']['affiliation'], role=pres['muc']['role'])
    form = await alice['xep_0045'].get_room_config(room, timeout=5)
    fields = form.get_fields()
    emit('config_form', fields=sorted(fields.keys()))
    form.get_fields()['muc#roomconfig_roomname']['value'] = 'Slix Room'
    await alice['xep_0045'].set_room_config(room, form, timeout=5)
    info = await alice['xep_0030'].get_info(jid=room, timeout=5)
    emit('room_info', name=list(info['disco_info']['identities'])[0][3], features=sorted(info['disco_info']['features']))

    alice.send_message(mto=room, mbody='first message', mtype='groupchat')
    m = await asyncio.wait_for(alice_gc.get(), 5)
    emit('alice_reflected', sender=str(m['from']), body=m['body'])

    # slixmpp 1.8.3's join_muc_wait prints each history message's <delay/> to stdout (a leftover debug
    # print); keep it out of the JSON lines.
    with contextlib.redirect_stdout(sys.stderr):
        pres, subject, occupants, history = await bob['xep_0045'].join_muc_wait(room, 'Bob', maxstanzas=10, timeout=5)
    emit('bob_joined', codes=codes(pres), nick=pres['from'].resource, occupants=sorted(str(p['from'].resource) for p in occupants),
         history=[h['body'] for h in history], delay_from=[str(h['delay']['from']) for h in history], subject=subject['subject'])
    # the history and the subject also reached bob's handlers; drop them
    for q in (bob_gc, bob_subject):
        while not q.empty():
            q.get_nowait()

    bob.send_message(mto=room, mbody='hi alice', mtype='groupchat')
    m = await asyncio.wait_for(alice_gc.get(), 5)
    emit('alice_received', sender=str(m['from']), body=m['body'])
    m = await asyncio.wait_for(bob_gc.get(), 5)
    emit('bob_reflected', sender=str(m['from']), body=m['body'])

    alice['xep_0045'].set_subject(room, 'Testing')
    m = await asyncio.wait_for(bob_subject.get(), 5)
    emit('bob_subject', sender=str(m['from']), subject=m['subject'])

    bob.send_message(mto=room + '/Alice', mbody='just for you', mtype='chat')
    while True:
        m = await asyncio.wait_for(alice_pm.get(), 5)
        if m['type'] == 'chat':
            break
    emit('alice_pm', sender=str(m['from']), body=m['body'])
    emit('alice_roster', nicks=sorted(alice['xep_0045'].get_roster(room)))

    bob['xep_0045'].leave_muc(room, 'Bob')
    alice['xep_0045'].leave_muc(room, 'Alice')
    await asyncio.gather(alice.stop(), bob.stop())

run(main, 20)
