// A submitted muc#roomconfig form checked against the form the service offers (XEP-0004 §3.2-§3.3): a field
// typed other than offered or a single-valued field with several values is bad-request; an oversized value
// is not-acceptable. Runs before any value is read, so a bad form changes nothing.
import { StanzaError, type Element } from '../../src/sdk.js';
import { configForm } from './config-form.js';
import { defaultConfig } from './room.js';

/** The offered fields' types by var, read from the form itself so the two never disagree. */
const OFFERED = new Map<string, string>(
  configForm(defaultConfig(), 'room@service', 0).getChildren('field').map((f) => [String(f.attrs.var), String(f.attrs.type)]),
);
const MULTI = new Set(['list-multi', 'jid-multi', 'text-multi']);

export function checkConfigSubmission(x: Element, maxValueBytes: number): void {
  for (const f of x.getChildren('field')) {
    const v = f.attrs.var;
    const values = f.getChildren('value');
    for (const val of values) {
      if (Buffer.byteLength(val.getText(), 'utf8') > maxValueBytes) {
        throw new StanzaError('not-acceptable', `${typeof v === 'string' ? v : 'a field'}: values are at most ${maxValueBytes} bytes`);
      }
    }
    if (typeof v !== 'string') continue;
    const offered = OFFERED.get(v);
    if (!offered) continue; // fields the service does not offer are ignored, as XEP-0004 lets a service do
    const type = f.attrs.type;
    if (type !== undefined && type !== offered) throw new StanzaError('bad-request', `${v} is a ${offered} field, not ${String(type)}`);
    if (!MULTI.has(offered) && values.length > 1) throw new StanzaError('bad-request', `${v} takes one value`);
  }
}
