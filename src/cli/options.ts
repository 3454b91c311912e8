/** Adds every config setting as a flag to a command, so each command accepts the same options. */
import { type Command, Option } from 'commander';
import { envName, SETTINGS } from '../config.ts';

export function addConfigOptions(cmd: Command): Command {
  for (const s of SETTINGS) {
    const flag =
      s.kind === 'bool' ? `--${s.flag}` : `--${s.flag} <${s.arg ?? (s.kind === 'port' ? 'port' : 'value')}>`;
    const def =
      s.default === undefined || (Array.isArray(s.default) && s.default.length === 0)
        ? ''
        : ` (default: ${String(s.default)})`;
    cmd.addOption(new Option(flag, `${s.description}${def} [${envName(s.flag)}]`));
  }
  return cmd;
}
