// XEP-0202 Entity Time: the server's UTC time and timezone offset (XEP-0082 profiles).
import { defineModule, NS, xml, StanzaError } from '../../src/sdk.js';

/** '+01:00' style offset for a Date, from the host's zone (XEP-0082 §3.4 TZD). */
export function tzo(d: Date): string {
  const minutes = -d.getTimezoneOffset();
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export default defineModule({
  name: 'time',
  xeps: ['XEP-0202'],
  features: [NS.TIME],
  start(ctx) {
    ctx.iq('host', NS.TIME, (req) => {
      if (req.type !== 'get') throw new StanzaError('bad-request', 'time is read-only');
      const now = new Date();
      const utc = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
      return xml('time', { xmlns: NS.TIME }, xml('tzo', {}, tzo(now)), xml('utc', {}, utc));
    });
  },
});
