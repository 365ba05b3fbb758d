# XEP-0077 in-band registration with aioxmpp 0.13 (Debian python3-aioxmpp), default settings:
# aioxmpp.node.connect_xmlstream (TLS, no authentication), the form and the registration sent as aioxmpp.ibr
# does (aioxmpp.ibr.Query through aioxmpp.protocol.send_and_wait_for, keeping the reply so that an error reply
# is seen: aioxmpp.ibr.register drops it), then a normal login with the new account. The server's
# certificate comes from a private CA that the test names in SSL_CERT_FILE, as a user with a private CA would.
# Usage: register.py <port> <full-jid> <password>
# Reports (JSON lines): form, registered | register_error, session_start, ping, done.
import os
import sys

import aioxmpp
import aioxmpp.connector
import aioxmpp.ibr
import aioxmpp.node
import aioxmpp.protocol
import aioxmpp.ping

# The shared helpers of the project's aioxmpp scripts, imported in place.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'test', 'e2e', 'clients'))
from aioxmpp_common import emit, run  # noqa: E402

port, jid_text, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jid = aioxmpp.JID.fromstr(jid_text)
peer = [('127.0.0.1', port, aioxmpp.connector.STARTTLSConnector())]


def iq_error(error):
    return {'error': error.condition.value[1], 'type': error.type_.value, 'text': error.text}


async def ask(stream, kind, query):
    """One XEP-0077 IQ to the server; the reply (result or error)."""
    iq = aioxmpp.IQ(to=jid.replace(localpart=None, resource=None), type_=kind, payload=query)
    iq.autoset_id()
    return await aioxmpp.protocol.send_and_wait_for(stream, [iq], [aioxmpp.IQ], timeout=10)


async def register():
    """Returns True when the account was created."""
    transport, stream, _features = await aioxmpp.node.connect_xmlstream(
        jid, aioxmpp.make_security_layer(None), override_peer=peer)
    try:
        reply = await ask(stream, aioxmpp.IQType.GET, aioxmpp.ibr.Query())
        if reply.type_ == aioxmpp.IQType.ERROR:
            emit('register_error', stage='get', **iq_error(reply.error))
            return False
        form = reply.payload
        emit('form', fields=sorted(tag[1] for tag in aioxmpp.ibr.get_used_fields(form)),
             instructions=form.instructions, registered=form.registered)
        reply = await ask(stream, aioxmpp.IQType.SET, aioxmpp.ibr.Query(jid.localpart, password))
        if reply.type_ == aioxmpp.IQType.ERROR:
            emit('register_error', stage='set', **iq_error(reply.error))
            return False
        emit('registered', username=jid.localpart)
        return True
    finally:
        stream.close()
        transport.close()


async def login():
    client = aioxmpp.PresenceManagedClient(jid, aioxmpp.make_security_layer(password), override_peer=peer)
    client.presence = aioxmpp.PresenceState(True)
    async with client.connected():
        emit('session_start', jid=str(client.local_jid))
        await aioxmpp.ping.ping(client, jid.replace(localpart=None, resource=None))
        emit('ping', ok=True)


async def main():
    if await register():
        await login()


run(main)
