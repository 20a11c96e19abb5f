/** The state file `serflow up --detach` writes so later commands (`down`, `status`, `infer`) find the stack. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What is running, as recorded in the state file and shown by `serflow status`. */
export interface StackInfo {
  temporalAddress: string;
  temporalUiUrl: string | null;
  namespace: string;
  natsUrl: string;
  /** Whether this stack started the servers (false: external ones from TEMPORAL_ADDRESS / NATS_URL). */
  embeddedTemporal: boolean;
  embeddedNats: boolean;
  dataDir: string;
  models: string[];
  processes: { name: string; pid: number; logFile: string; role: 'temporal' | 'nats' | 'worker' }[];
  startedAt: string;
}

export function stateFilePath(homeDir: string): string {
  return path.join(homeDir, 'state.json');
}

export function writeStateFile(homeDir: string, info: StackInfo): void {
  fs.mkdirSync(homeDir, { recursive: true });
  fs.writeFileSync(stateFilePath(homeDir), `${JSON.stringify({ v: 1, ...info }, null, 2)}\n`);
}

/** The recorded stack, or null when none is recorded. */
export function readStateFile(homeDir: string): StackInfo | null {
  const file = stateFilePath(homeDir);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as StackInfo;
}

export function removeStateFile(homeDir: string): void {
  fs.rmSync(stateFilePath(homeDir), { force: true });
}
