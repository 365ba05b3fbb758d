// Type declarations for @xmpp/xml and the ltx Element it re-exports (neither ships its own types).
// Published with the package (package.json files): dist/src/sdk.d.ts references it for plugin authors.
declare module '@xmpp/xml' {
  export type Node = Element | string;
  export class Element {
    constructor(name: string, attrs?: Record<string, string>);
    name: string;
    attrs: Record<string, any>;
    children: Node[];
    parent: Element | null;
    is(name: string, xmlns?: string): boolean;
    getName(): string;
    getNS(): string | undefined;
    findNS(prefix?: string): string | undefined;
    getAttr(name: string, xmlns?: string): any;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildByAttr(attr: string, val: any, xmlns?: string, recursive?: boolean): Element | undefined;
    getChildrenByFilter(filter: (child: Node) => boolean, recursive?: boolean): Node[];
    getText(): string;
    getChildText(name: string, xmlns?: string): string | null;
    getChildElements(): Element[];
    root(): Element;
    up(): Element;
    c(name: string, attrs?: Record<string, any>): Element;
    cnode<T extends Node>(child: T): T;
    append(...nodes: Node[]): void;
    prepend(...nodes: Node[]): void;
    t(text: string): Element;
    remove(el: Element | string, xmlns?: string): Element;
    text(val?: string): string;
    attr(attr: string, val?: any): any;
    toString(): string;
  }
  export function createElement(name: string, attrs?: Record<string, any> | null, ...children: Array<Node | Node[] | null | undefined>): Element;
  export function xml(name: string, attrs?: Record<string, any> | null, ...children: Array<Node | Node[] | null | undefined>): Element;
  export function escapeXML(s: string): string;
  export function unescapeXML(s: string): string;
  export function escapeXMLText(s: string): string;
  export function unescapeXMLText(s: string): string;
  export class XMLError extends Error {}
  export class Parser {
    constructor();
    on(event: string, fn: (...args: any[]) => void): this;
    write(data: string): void;
    end(data?: string): void;
  }
  export default xml;
}

declare module 'ltx/lib/parsers/ltx.js' {
  import { EventEmitter } from 'node:events';
  export default class SaxLtx extends EventEmitter {
    write(data: string): void;
    end(data?: string): void;
  }
}

declare module 'ltx/lib/Element.js' {
  import { Element } from '@xmpp/xml';
  export default Element;
}

declare module 'saslprep' {
  export default function saslprep(input: string, opts?: { allowUnassigned?: boolean }): string;
}

declare module 'ltx' {
  import { Element } from '@xmpp/xml';
  export function clone<T extends Element>(el: T): T;
  export function parse(xml: string): Element;
}
