// XEP-0045 §10.2 room configuration as an XEP-0004 form (FORM_TYPE muc#roomconfig, §15.5.3), and the
// status codes a change announces (§10.2.1: 104, 170-173).
import { StanzaError, xml, type Element } from '../../src/sdk.js';
import { NS_DATA, NS_ROOMCONFIG } from './ns.js';
import { ROLES, type AllowPm, type Role, type RoomConfig } from './room.js';
import { STATUS } from './status-codes.js';

const P = 'muc#roomconfig_';
const ALLOW_PM: readonly AllowPm[] = ['anyone', 'participants', 'moderators', 'none'];
const MAX_USERS = ['10', '20', '30', '50', '100', '200', '500', '1000'];
const BROADCAST_ROLES: Role[] = ROLES.filter((r) => r !== 'none');

function field(type: string, v: string, label: string, values: string[], options?: string[]): Element {
  const f = xml('field', { type, var: v, label });
  for (const val of values) f.c('value').t(val);
  for (const o of options ?? []) f.c('option', { label: o }).c('value').t(o);
  return f;
}
const bool = (b: boolean) => (b ? '1' : '0');

/** The configuration form with the room's current values (§10.2 example 163). */
export function configForm(c: RoomConfig, roomJid: string, maxUsersLimit: number): Element {
  const x = xml('x', { xmlns: NS_DATA, type: 'form' });
  x.c('title').t(`Configuration of ${roomJid}`);
  x.cnode(xml('field', { type: 'hidden', var: 'FORM_TYPE' }, xml('value', {}, NS_ROOMCONFIG)));
  x.cnode(field('text-single', `${P}roomname`, 'Natural-language room name', [c.name]));
  x.cnode(field('text-single', `${P}roomdesc`, 'Short description of the room', [c.description]));
  x.cnode(field('boolean', `${P}persistentroom`, 'Make room persistent', [bool(c.persistent)]));
  x.cnode(field('boolean', `${P}publicroom`, 'Make room publicly searchable', [bool(c.public)]));
  x.cnode(field('boolean', `${P}membersonly`, 'Make room members-only', [bool(c.membersOnly)]));
  x.cnode(field('boolean', `${P}passwordprotectedroom`, 'Password required to enter', [bool(c.passwordProtected)]));
  x.cnode(field('text-private', `${P}roomsecret`, 'Password', [c.password]));
  x.cnode(field('boolean', `${P}moderatedroom`, 'Make room moderated', [bool(c.moderated)]));
  const limits = MAX_USERS.filter((n) => !maxUsersLimit || Number(n) <= maxUsersLimit);
  x.cnode(field('list-single', `${P}maxusers`, 'Maximum number of occupants', [c.maxUsers ? String(c.maxUsers) : 'none'], maxUsersLimit ? limits : [...limits, 'none']));
  x.cnode(field('list-single', `${P}whois`, 'Who may discover real JIDs', [c.whois], ['moderators', 'anyone']));
  x.cnode(field('boolean', `${P}changesubject`, 'Allow occupants to change the subject', [bool(c.changeSubject)]));
  x.cnode(field('boolean', `${P}allowinvites`, 'Allow occupants to invite others', [bool(c.allowInvites)]));
  x.cnode(field('list-single', `${P}allowpm`, 'Who may send private messages', [c.allowPm], [...ALLOW_PM]));
  x.cnode(field('boolean', `${P}enablelogging`, 'Enable public logging', [bool(c.logging)]));
  x.cnode(field('boolean', 'mam', 'Enable message archiving', [bool(c.mam)]));
  x.cnode(field('boolean', 'members_by_default', 'Occupants enter as participants (with voice)', [bool(c.membersByDefault)]));
  x.cnode(field('list-multi', `${P}getmemberlist`, 'Roles that may retrieve the member list', c.getMemberList, BROADCAST_ROLES));
  x.cnode(field('list-multi', `${P}presencebroadcast`, 'Roles whose presence is broadcast', c.presenceBroadcast, BROADCAST_ROLES));
  return x;
}

const bad = (text: string) => new StanzaError('not-acceptable', text);

function parseBool(v: string | undefined, name: string): boolean {
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false' || v === undefined) return false;
  throw bad(`${name} must be a boolean`);
}

/** The form's submitted values by var (XEP-0004 §3.2); null for a cancel (type='cancel'). */
export function submittedValues(x: Element): Map<string, string[]> | null {
  if (x.attrs.type === 'cancel') return null;
  if (x.attrs.type !== 'submit') throw new StanzaError('bad-request', "the configuration form must be of type 'submit'");
  const out = new Map<string, string[]>();
  for (const f of x.getChildren('field')) {
    if (typeof f.attrs.var !== 'string') continue;
    out.set(f.attrs.var, f.getChildren('value').map((v) => v.getText()));
  }
  const ft = out.get('FORM_TYPE')?.[0];
  if (ft !== undefined && ft !== NS_ROOMCONFIG) throw new StanzaError('bad-request', `FORM_TYPE must be ${NS_ROOMCONFIG}`);
  return out;
}

/** A new configuration from submitted values: fields left out keep their value (§10.2). */
export function applyConfig(cur: RoomConfig, values: Map<string, string[]>, maxUsersLimit: number): RoomConfig {
  const c: RoomConfig = { ...cur };
  const one = (v: string) => values.get(v)?.[0];
  const has = (v: string) => values.has(v);
  if (has(`${P}roomname`)) c.name = one(`${P}roomname`) ?? '';
  if (has(`${P}roomdesc`)) c.description = one(`${P}roomdesc`) ?? '';
  if (has(`${P}persistentroom`)) c.persistent = parseBool(one(`${P}persistentroom`), 'persistentroom');
  if (has(`${P}publicroom`)) c.public = parseBool(one(`${P}publicroom`), 'publicroom');
  if (has(`${P}membersonly`)) c.membersOnly = parseBool(one(`${P}membersonly`), 'membersonly');
  if (has(`${P}passwordprotectedroom`)) c.passwordProtected = parseBool(one(`${P}passwordprotectedroom`), 'passwordprotectedroom');
  if (has(`${P}roomsecret`)) c.password = one(`${P}roomsecret`) ?? '';
  if (has(`${P}moderatedroom`)) c.moderated = parseBool(one(`${P}moderatedroom`), 'moderatedroom');
  if (has(`${P}maxusers`)) {
    const v = one(`${P}maxusers`) ?? 'none';
    const n = v === 'none' || v === '' ? 0 : Number(v);
    if (!Number.isInteger(n) || n < 0) throw bad('maxusers must be a number or none');
    if (maxUsersLimit && (n === 0 || n > maxUsersLimit)) throw bad(`maxusers is at most ${maxUsersLimit} on this service`);
    c.maxUsers = n;
  }
  if (has(`${P}whois`)) {
    const v = one(`${P}whois`);
    if (v !== 'moderators' && v !== 'anyone') throw bad('whois must be moderators or anyone');
    c.whois = v;
  }
  if (has(`${P}changesubject`)) c.changeSubject = parseBool(one(`${P}changesubject`), 'changesubject');
  if (has(`${P}allowinvites`)) c.allowInvites = parseBool(one(`${P}allowinvites`), 'allowinvites');
  if (has(`${P}allowpm`)) {
    const v = one(`${P}allowpm`) as AllowPm;
    if (!ALLOW_PM.includes(v)) throw bad(`allowpm must be one of ${ALLOW_PM.join(', ')}`);
    c.allowPm = v;
  }
  if (has(`${P}enablelogging`)) c.logging = parseBool(one(`${P}enablelogging`), 'enablelogging');
  if (has('mam')) c.mam = parseBool(one('mam'), 'mam');
  // Prosody's name for the same setting (XEP-0313 §5 room archiving).
  if (has(`${P}enablearchiving`)) c.mam = parseBool(one(`${P}enablearchiving`), 'enablearchiving');
  if (has('members_by_default')) c.membersByDefault = parseBool(one('members_by_default'), 'members_by_default');
  const roles = (v: string): Role[] => {
    const rs = values.get(v) ?? [];
    for (const r of rs) if (!BROADCAST_ROLES.includes(r as Role)) throw bad(`${v.replace(P, '')}: "${r}" is not a role`);
    return [...new Set(rs)] as Role[]; // a role named twice counts once
  };
  if (has(`${P}getmemberlist`)) c.getMemberList = roles(`${P}getmemberlist`);
  if (has(`${P}presencebroadcast`)) c.presenceBroadcast = roles(`${P}presencebroadcast`);
  // §10.2: a password-protected room needs a password.
  if (c.passwordProtected && !c.password) throw bad('a password-protected room needs roomsecret');
  if (!c.passwordProtected) c.password = '';
  return c;
}

/** §10.2.1: the status codes announcing a change from `a` to `b` (empty when nothing changed). */
export function changeCodes(a: RoomConfig, b: RoomConfig): number[] {
  const codes: number[] = [];
  const changed = (Object.keys(a) as Array<keyof RoomConfig>).some((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  if (!changed) return codes;
  codes.push(STATUS.CONFIG_CHANGED);
  if (!a.logging && b.logging) codes.push(STATUS.LOGGING);
  if (a.logging && !b.logging) codes.push(STATUS.LOGGING_OFF);
  if (a.whois !== 'anyone' && b.whois === 'anyone') codes.push(STATUS.NOW_NON_ANONYMOUS);
  if (a.whois === 'anyone' && b.whois !== 'anyone') codes.push(STATUS.NOW_SEMI_ANONYMOUS);
  return codes;
}
