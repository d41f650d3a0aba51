import { killOrphanedTestAgents } from './orphans.ts';

/** Mocha root hooks (`.mocharc.json` requires this file). */
export const mochaHooks = {
  beforeAll(): void {
    const killed = killOrphanedTestAgents();
    if (killed.length > 0) console.log(`  killed ${killed.length} agent(s) left running by an earlier, killed test run: pids ${killed.join(', ')}`);
  },
};
