// The public surface for module authors (`xmppd/sdk`): everything a module may import from the server.
/// <reference path="./types/xmpp-xml.d.ts" preserve="true" />
export { defineModule } from './core/module-runtime/module-definition.js';
export type { ModuleDefinition } from './core/module-runtime/module-definition.js';
export { ModuleContext, type ModuleAccounts, type ModuleCommandCaller } from './core/module-runtime/module-context.js';
export { opt } from './core/module-runtime/options.js';
export type { OptionSchema, OptionValues, OptionSpec } from './core/module-runtime/options.js';
export { default as xml, Element } from '@xmpp/xml';
export { Jid, JidError } from './core/jid.js';
export { StanzaError, StreamError } from './core/errors.js';
export type { StanzaErrorCondition, StanzaErrorType } from './core/errors.js';
export { NS } from './core/ns.js';
export { DROP, STOP } from '../hooks/index.js';
export type { IqRequest, IqHandler, IqScope } from './core/iq-router.js';
export type { Session, UnboundStream } from './core/session.js';
export type { Table, Row, RangeOptions, Op, Cond, ChangeEvent } from './data/index.js';
export { errorReply, iqResult, parseXml } from './core/stanza.js';
export { elementToJson, elementFromJson, cloneElement, type ElementJson } from './core/element-json.js';
export { AccountExistsError, NoSuchAccountError } from './core/accounts.js';
export { SaslPrepError } from './core/sasl/scram-credentials.js';
// The server's one password policy (in-band registration and the admin commands apply the same).
export { passwordProblem, minPasswordLength, MAX_PASSWORD_CHARS, DEFAULT_MIN_PASSWORD_LENGTH } from './core/password-policy.js';
// Authentication providers (ctx.authProvider): the contract, its errors, and SCRAM key derivation for
// providers that keep their own stored keys.
export { AuthRefusedError, AuthUnavailableError, AuthUnsupportedError } from './core/auth/auth-provider.js';
export type { AuthCapabilities, AuthProvider } from './core/auth/auth-provider.js';
export { deriveCredentials, verifyPassword, type StoredCredentials } from './core/sasl/scram-credentials.js';
export { COMMANDS, CommandError, type CommandDef, type CommandCaller } from './core/admin/commands.js';
// Modules' own admin commands (ctx.command) and XEP-0227 data (ModuleDefinition.portable).
export type { CommandInfo, ModuleCommandDef, ModuleCommandCall } from './core/admin/command-registry.js';
export type { DataContext } from './core/module-runtime/data-context.js';
export type { PortableSection, PortableExport, PortableImport } from './core/module-runtime/portable-section.js';
export { standalone } from './core/portable/pie-format.js';
export type { HookHandler, HookCtx, FilterValue } from './core/hooks/hook-runner.js';
export type { HookName, HookCatalogue, HookSpec } from '../hooks/index.js';
// Typed services modules offer each other: ctx.service(ROSTER_SERVICE) is a RosterApi, no cast needed.
export { serviceKey, type ServiceKey } from './core/services/service-key.js';
export { ROSTER_SERVICE, type RosterApi, type RosterChange, type RosterItem, type RosterMutator, type Subscription } from './core/services/roster-service.js';
export { OFFLINE_SERVICE, type OfflineApi } from './core/services/offline-service.js';
export { PEP_SERVICE, type PepApi, type PepItem, type PublishOptions } from './core/services/pep-service.js';
export { CAPS_SERVICE, type CapsApi } from './core/services/caps-service.js';
export { ROOM_ARCHIVE_SERVICE, type RoomArchiveApi } from './core/services/room-archive-service.js';
export { privateSlotService, type PrivateSlotApi } from './core/services/private-slot-service.js';
export type { ServiceDomainHandler, ServeDomainOptions } from './core/router.js';
export type { ModuleCluster, ObjectStore } from './core/cluster/module-cluster.js';
export { serveIqDomain, type ServiceIqHandler } from './core/module-runtime/iq-service-domain.js';
export type { HttpRouteHandler } from './core/http-routes.js';
export type { RegistrationSlot } from './core/limits/limits.js';
export type { ModuleInfo } from './core/module-runtime/module-manager.js';
export type { AclSubject } from './core/acl.js';
export type { DiscoIdentity } from '../hooks/index.js';
