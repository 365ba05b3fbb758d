# Shared helpers for the slixmpp interop scripts driven by test/e2e/slixmpp.test.ts: a stock ClientXMPP that
# dials 127.0.0.1:<port> (connect(address): no SRV lookup) and reports what happened as JSON lines on stdout
# (one object per line, always with an "event" key).
import asyncio
import json
import os
import signal
import ssl
import sys
import traceback

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}, default=str), flush=True)


def hard_timeout(seconds):
    """Whatever happens (a hung handshake, a lost event), the script ends within `seconds`."""
    def on_alarm(_signum, _frame):
        emit('timeout', seconds=seconds)
        os._exit(3)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)


class TestClient(slixmpp.ClientXMPP):
    """ClientXMPP connecting to 127.0.0.1:port.

    mech: slixmpp's sasl_mech option (force one SASL mechanism; why users set it: test/e2e/slixmpp.test.ts),
    or None for slixmpp's own choice.
    direct_tls: XEP-0368 direct TLS (slixmpp 1.8.3 spells it connect(use_ssl=True)) instead of STARTTLS.
    """

    def __init__(self, jid, password, port, *, mech=None, direct_tls=False, plugins=()):
        super().__init__(jid, password, sasl_mech=mech)
        # Options a user sets too: the server's address and port (start() below); the test servers'
        # self-signed certificate is trusted through SSL_CERT_FILE (test/support/slixmpp.ts).
        self.test_port = port
        self.direct_tls = direct_tls
        for p in plugins:
            self.register_plugin(p)

    def start(self):
        self.connect(('127.0.0.1', self.test_port), use_ssl=self.direct_tls)

    def tls_version(self):
        sock = self.socket
        return sock.version() if isinstance(sock, (ssl.SSLSocket, ssl.SSLObject)) else None

    def sasl_info(self):
        mech = self['feature_mechanisms'].mech
        if mech is None:
            return {'mech': None}
        info = {'mech': mech.name}
        gs2 = getattr(mech, 'gs2_header', None)
        if gs2 is not None:
            info['gs2'] = gs2.decode()
        return info

    async def stop(self):
        if self.transport is not None:
            await self.disconnect(wait=1)


async def first_event(client, names, timeout):
    """Wait for the first of several slixmpp events; returns (name, data)."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()
    handlers = {}
    for name in names:
        def handler(data=None, _name=name):
            if not fut.done():
                fut.set_result((_name, data))
        handlers[name] = handler
        client.add_event_handler(name, handler)
    try:
        return await asyncio.wait_for(fut, timeout)
    finally:
        for name, handler in handlers.items():
            client.del_event_handler(name, handler)


async def login(client, timeout=10):
    """Start the client and wait until the session starts (True) or authentication fails for good (False)."""
    failures = []
    client.add_event_handler('failed_auth', lambda f: failures.append({'condition': f['condition'], 'text': f['text']}))
    client.start()
    name, _ = await first_event(client, ['session_start', 'failed_all_auth', 'disconnected'], timeout)
    if name == 'session_start':
        emit('session_start', jid=str(client.boundjid), tls=client.tls_version(), **client.sasl_info())
        return True
    emit('auth_failed', reason=name, failures=failures, tls=client.tls_version(), **client.sasl_info())
    return False


async def wait_for_caps(client, before=None, tries=50):
    """Wait until slixmpp's XEP-0115 plugin has (re)computed the client's 'ver' (add_interest does it in the
    background): a new verification string other than `before`; returns it (None after `tries` polls)."""
    for _ in range(tries):
        ver = await client['xep_0115'].get_verstring(client.boundjid.full)
        if ver and ver != before:
            return ver
        await asyncio.sleep(0.1)
    return None


def iq_error(e):
    if isinstance(e, IqError):
        return {'error': e.iq['error']['condition'], 'type': e.iq['error']['type']}
    if isinstance(e, IqTimeout):
        return {'error': 'timeout'}
    return {'error': repr(e)}


def run(main, timeout):
    """Run main() under a hard timeout; any exception is reported as an 'exception' line and exit 1."""
    hard_timeout(timeout)
    try:
        asyncio.run(main())
    except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
        emit('exception', error=repr(e), trace=traceback.format_exc())
        sys.exit(1)
    emit('done')
