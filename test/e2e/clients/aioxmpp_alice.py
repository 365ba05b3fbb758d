# aioxmpp 0.13 (Debian python3-aioxmpp) with its default settings: alice logs in, sends bob a chat message,
# prints the answer she gets and disconnects. JSON lines on stdout (see test/support/slixmpp.ts).
# Usage: aioxmpp_alice.py <port> <starttls|direct> <jid> <password> <peer> <body>
# The server's certificate comes from a private CA: the test sets SSL_CERT_FILE to it, the OpenSSL variable
# a user with a private CA sets too (aioxmpp's default PKIX verifier loads OpenSSL's default paths).
import asyncio
import sys

import aioxmpp
import aioxmpp.connector
import aioxmpp.dispatcher

from aioxmpp_common import emit, run

port, mode, jid, password, peer, body = sys.argv[1:7]


async def main():
    # Option a user sets too: the server's address and port when its domain is not in DNS (override_peer),
    # with the connector for that port (STARTTLS, or XEP-0368 direct TLS).
    connector = aioxmpp.connector.XMPPOverTLSConnector() if mode == 'direct' else aioxmpp.connector.STARTTLSConnector()
    client = aioxmpp.PresenceManagedClient(
        aioxmpp.JID.fromstr(jid),
        aioxmpp.make_security_layer(password),
        override_peer=[('127.0.0.1', int(port), connector)],
    )
    got = asyncio.get_running_loop().create_future()

    def on_message(msg):
        if msg.body and not got.done():
            got.set_result(msg)

    client.summon(aioxmpp.dispatcher.SimpleMessageDispatcher).register_callback(aioxmpp.MessageType.CHAT, None, on_message)
    client.presence = aioxmpp.PresenceState(True)
    async with client.connected() as stream:
        emit('session_start', jid=str(client.local_jid))
        msg = aioxmpp.Message(to=aioxmpp.JID.fromstr(peer), type_=aioxmpp.MessageType.CHAT)
        msg.body[None] = body
        await stream.send(msg)
        m = await asyncio.wait_for(got, 15)
        emit('message', sender=str(m.from_), type=m.type_.value, body=m.body.any())


run(main)
