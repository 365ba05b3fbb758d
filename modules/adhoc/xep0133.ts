// XEP-0133 Service Administration over the admin command registry: add/delete user (§4.1, §4.2), end
// user session (§4.5), change password (§4.7), registered/online user counts and lists (§4.13, §4.15,
// §4.18, §4.20). Form fields and FORM_TYPE per the XEP's registry submission (§8.2).
import { StanzaError } from '../../src/sdk.js';
import { dataForm, badPayload, type FieldSpec } from './forms.js';
import { REGISTRY, attempt, localJid, truncated, type AdhocCommand, type Note, type RunEnv } from './command.js';

export const NS_ADMIN = 'http://jabber.org/protocol/admin';

const accountjids = (label: string): FieldSpec => ({ var: 'accountjids', type: 'jid-multi', label, required: true });

/** Registry arguments as XEP-0133 fields (jid -> accountjid, password -> a hidden-text password). */
const XEP_FIELD: Record<string, FieldSpec> = {
  jid: { var: 'accountjid', type: 'jid-single', label: 'The Jabber ID for this account', required: true },
  password: { var: 'password', type: 'text-private', label: 'The password for this account', required: true },
};

function fieldsOf(command: string): FieldSpec[] {
  const def = REGISTRY.get(command);
  if (!def) throw new Error(`the admin command registry has no ${command}`);
  return def.args.map((a) => XEP_FIELD[a.replace(/\?$/, '')] ?? { var: a.replace(/\?$/, ''), type: 'text-single', label: a, required: !a.endsWith('?') });
}

/** A completed outcome with XEP-0133 result fields. */
const result = (name: string, fields: FieldSpec[], notes: Note[] = []) => ({ notes, form: dataForm('result', NS_ADMIN, fields, name) });

function xep133(cmd: Omit<AdhocCommand, 'node' | 'formType' | 'fields'> & { id: string; fields?: () => FieldSpec[] }): AdhocCommand {
  const fields = cmd.fields ?? (() => []);
  return { ...cmd, node: `${NS_ADMIN}#${cmd.id}`, formType: NS_ADMIN, fields, aliases: cmd.aliases?.map((a) => `${NS_ADMIN}#${a}`) };
}

/** Apply one registry command to each JID; one info note for what worked, an error note per failure. */
async function each(env: RunEnv, command: string, jids: string[], done: string): Promise<{ notes: Note[] }> {
  const ok: string[] = [];
  const notes: Note[] = [];
  for (const jid of jids) {
    const r = await attempt(env, command, { jid });
    if (r.ok) ok.push(jid);
    else notes.push({ type: 'error', text: r.error });
  }
  if (ok.length) notes.unshift({ type: 'info', text: `${done}: ${ok.join(', ')}` });
  return { notes };
}

async function onlineUsers(env: RunEnv): Promise<string[]> {
  const r = await attempt(env, 'sessions.list', {});
  if (!r.ok) throw new StanzaError('internal-server-error', r.error);
  const sessions = (r.result as { sessions: Array<{ jid: string }> }).sessions;
  // "Online users" are accounts with at least one connected resource (XEP-0133 §4.15), on this host.
  const bare = sessions.map((s) => s.jid.replace(/\/.*$/, '')).filter((j) => j.endsWith(`@${env.host}`));
  return [...new Set(bare)].sort();
}

async function registeredUsers(env: RunEnv): Promise<string[]> {
  const r = await attempt(env, 'user.list', { host: env.host });
  if (!r.ok) throw new StanzaError('internal-server-error', r.error);
  return (r.result as { users: string[] }).users;
}

export const XEP0133_COMMANDS: AdhocCommand[] = [
  xep133({
    id: 'add-user', name: 'Add User', instructions: 'Fill out this form to add a user.',
    fields: () => [...fieldsOf('user.add'), { var: 'password-verify', type: 'text-private', label: 'Retype password', required: true }],
    async run(env, v) {
      const jid = localJid(env, v.one('accountjid'));
      if (v.one('password') !== v.one('password-verify')) throw badPayload('the two passwords do not match');
      // XEP-0133 §5: an account that exists already is a <conflict/>.
      if (await env.accounts.exists(jid)) throw new StanzaError('conflict', `${jid.bareString()} already exists`);
      const r = await attempt(env, 'user.add', { jid: jid.bareString(), password: v.one('password') });
      return { notes: [r.ok ? { type: 'info', text: `Account ${jid.bareString()} created.` } : { type: 'error', text: r.error }] };
    },
  }),
  xep133({
    id: 'delete-user', name: 'Delete User', instructions: 'Fill out this form to delete a user.',
    fields: () => [accountjids('The Jabber ID(s) to delete')],
    run: (env, v) => each(env, 'user.del', v.all('accountjids').map((j) => localJid(env, j).bareString()), 'Deleted'),
  }),
  xep133({
    id: 'end-user-session', name: 'End User Session', instructions: "Fill out this form to end a user's session.",
    fields: () => [accountjids('The Jabber ID(s) for which to end sessions')],
    // §4.5: a bare JID ends every session of the account, a full JID that one session.
    run: (env, v) => each(env, 'session.kick', v.all('accountjids').map((j) => localJid(env, j, { full: true }).toString()), 'Ended the sessions of'),
  }),
  xep133({
    id: 'change-user-password', name: 'Change User Password', instructions: "Fill out this form to change a user's password.",
    fields: () => fieldsOf('user.passwd'),
    async run(env, v) {
      const jid = localJid(env, v.one('accountjid')).bareString();
      const r = await attempt(env, 'user.passwd', { jid, password: v.one('password') });
      return { notes: [r.ok ? { type: 'info', text: `Password of ${jid} changed.` } : { type: 'error', text: r.error }] };
    },
  }),
  xep133({
    id: 'get-registered-users-num', name: 'Get Number of Registered Users',
    run: async (env) => result('Number of Registered Users', [
      { var: 'registeredusersnum', type: 'text-single', label: 'The number of registered users', values: [String((await registeredUsers(env)).length)] },
    ]),
  }),
  xep133({
    id: 'get-registered-users-list', name: 'Get List of Registered Users',
    async run(env) {
      const notes: Note[] = [];
      const users = truncated(await registeredUsers(env), notes);
      return result('List of Registered Users', [{ var: 'registereduserjids', type: 'jid-multi', label: 'The list of all users', values: users }], notes);
    },
  }),
  xep133({
    id: 'get-online-users-num', name: 'Get Number of Online Users',
    run: async (env) => result('Number of Online Users', [
      { var: 'onlineusersnum', type: 'text-single', label: 'The number of online users', values: [String((await onlineUsers(env)).length)] },
    ]),
  }),
  xep133({
    id: 'get-online-users-list', name: 'Get List of Online Users', aliases: ['get-online-users'],
    async run(env) {
      const notes: Note[] = [];
      const users = truncated(await onlineUsers(env), notes);
      return result('List of Online Users', [{ var: 'onlineuserjids', type: 'jid-multi', label: 'The list of all online users', values: users }], notes);
    },
  }),
];
