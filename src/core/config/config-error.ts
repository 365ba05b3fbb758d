// Operator errors of the configuration (XMPPD_ERR_CONFIG): one problem with its YAML path, or all the
// problems of one file at once (start and reload report every one, not only the first).
import { OperatorError } from '../errors.js';
import { formatProblem, type ConfigProblem } from './config-problem.js';

export class ConfigError extends OperatorError {
  constructor(readonly file: string, readonly yamlPath: string, readonly problem: string) {
    super('XMPPD_ERR_CONFIG', `${file || '<config>'}: ${yamlPath || '(top level)'}: ${problem}`);
  }
}

/** Every error of one file; `yamlPath` and `problem` are the first one's, the message lists them all. */
export class ConfigErrors extends ConfigError {
  constructor(readonly problems: ConfigProblem[]) {
    const first = problems[0]!;
    super(first.file, first.yamlPath, first.problem);
    const n = problems.length;
    this.message = `${n} configuration error${n === 1 ? '' : 's'}:\n${problems.map((p) => formatProblem(p)).join('\n')}`;
  }
}
