// The runtime description of one hook, used to reject unknown names and to generate hooks/README.md.
export interface HookSpec {
  kind: 'filter' | 'notify';
  /** Whether a handler may return DROP (only stanza hooks). */
  drop: boolean;
  /** One line: when it runs and what a handler may do. */
  doc: string;
  /** The TypeScript types of the value (filter hooks) and of the context. */
  value?: string;
  ctx: string;
  /**
   * 'host' (the default): fired for one virtual host; runs that host's handlers and the global ones.
   * 'global': server-wide, fired without a host; only global registrations (ctx.hookGlobal).
   */
  scope?: 'host' | 'global';
  /** For host hooks: which host a firing concerns (documentation, rendered in hooks/README.md). */
  host?: string;
}
