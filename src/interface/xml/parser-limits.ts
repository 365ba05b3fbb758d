// The stream parser bounds taken from the server configuration (RFC 6120 §13.12 resource exhaustion):
// one place, so c2s, s2s and component streams apply the same limits.
import type { ServerConfig } from '../../core/config/types.js';
import type { StreamParserOptions } from './stream-parser.js';

export function parserLimits(config: ServerConfig): StreamParserOptions {
  return {
    maxStanzaSize: config.max_stanza_size,
    maxDepth: config.max_xml_depth,
    maxAttributes: config.max_xml_attributes,
    maxNameLength: config.max_xml_name_length,
  };
}
