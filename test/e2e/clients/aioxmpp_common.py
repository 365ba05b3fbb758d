# Shared by the project's aioxmpp scripts: JSON-line reports for the test (see test/support/slixmpp.ts) and
# a run with a hard timeout whose exception is reported rather than lost.
import asyncio
import json
import sys


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}, default=str), flush=True)


def run(main, seconds=25):
    """Runs main() to its end, reports an exception (exit 1) or 'done'."""
    async def guarded():
        try:
            await asyncio.wait_for(main(), seconds)
        except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
            emit('exception', error=repr(e))
            sys.exit(1)
    asyncio.run(guarded())
    emit('done')
