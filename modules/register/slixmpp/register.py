# slixmpp's XEP-0077 plugin registers an account in-band (the 'register' event, fired for the stream
# feature or, with 'force', whatever the server offers), then logs in with it on the same stream.
# Usage: register.py <port> <full-jid> <password> <starttls|insecure> [force]
# Reports: features (per <stream:features/>), form, registered | register_error, session_start | auth_failed.
import os
import sys

# The shared helpers of the project's slixmpp interop tests (the test server's address, JSON reports,
# a hard timeout): imported in place, not copied.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'test', 'e2e', 'slixmpp'))

from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402
from slixmpp.stanza import Iq, StreamFeatures  # noqa: E402

from common import TestClient, emit, iq_error, login, run  # noqa: E402

port, jid, password, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
force = 'force' in sys.argv[5:]


def error_text(e):
    return e.iq['error']['text'] if isinstance(e, IqError) else None


def let_registration_through(client):
    """slixmpp 1.8.3 holds back every stanza sent before session_start except bind and session IQs, so
    its own xep_0077 form request waits forever ("NOT SENT" in its debug log). Later slixmpp releases let
    jabber:iq:register IQs through as well (XMLStream.send passthrough); do the same here."""
    send = client.send

    def send_with_register_passthrough(data, use_filters=True):
        if isinstance(data, Iq) and data.get_plugin('register', check=True) and not client._always_send_everything:
            client._always_send_everything = True
            try:
                return send(data, use_filters)
            finally:
                client._always_send_everything = False
        return send(data, use_filters)
    client.send = send_with_register_passthrough


async def main():
    c = TestClient(jid, password, port, plugins=['xep_0077', 'xep_0199'])
    let_registration_through(c)
    if mode == 'insecure':
        # No TLS at all: the listener under test does not require STARTTLS.
        c.start = lambda: c.connect(('127.0.0.1', port), use_ssl=False, force_starttls=False, disable_starttls=True)

    forced = []

    def record_features(stanza):
        if isinstance(stanza, StreamFeatures):
            # What the server really offered, before any forcing below.
            offered = sorted(stanza['features'])
            emit('features', tls=c.tls_version(), offered=offered)
            # 'force': behave as if the server offered registration (the plugin's force_registration).
            # That setting never fires over STARTTLS in slixmpp 1.8.3 (it expects an ssl.SSLSocket, the
            # asyncio transport has an SSLObject), so it is done here, once, where SASL is offered.
            ready = c.tls_version() is not None or mode == 'insecure'
            if force and ready and not forced and 'mechanisms' in offered and 'register' not in offered:
                forced.append(True)
                stanza.enable('register')
        return stanza
    c.add_filter('in', record_features)
    plugin = c['xep_0077']

    # The plugin fetches the form itself and lets an IqError escape from its stream-feature handler;
    # report it and end the stream instead of leaving the negotiation hanging.
    fetch = plugin.get_registration

    async def get_registration(*args, **kwargs):
        kwargs.setdefault('timeout', 5)
        try:
            return await fetch(*args, **kwargs)
        except (IqError, IqTimeout) as e:
            emit('register_error', stage='get', text=error_text(e), **iq_error(e))
            c.disconnect()
            raise
    plugin.get_registration = get_registration

    async def on_register(form):
        reg = form['register']
        emit('form', fields=sorted(reg['fields']), instructions=reg['instructions'], registered=reg['registered'])
        resp = c.Iq()
        resp['type'] = 'set'
        resp['register']['username'] = c.boundjid.user
        resp['register']['password'] = password
        try:
            await resp.send(timeout=5)
            emit('registered', username=c.boundjid.user)
        except (IqError, IqTimeout) as e:
            emit('register_error', stage='set', text=error_text(e), **iq_error(e))
            c.disconnect()
    c.add_event_handler('register', on_register)

    if await login(c):
        rtt = await c['xep_0199'].ping(c.boundjid.domain, timeout=5)
        emit('ping', ok=rtt is not None)
    await c.stop()

run(main, 20)
