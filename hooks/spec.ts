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
}
