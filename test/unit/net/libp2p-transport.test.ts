import { transportComplianceSuite } from '../../compliance/transport-suite.ts';
import { libp2pHarness } from './libp2p-harness.ts';

transportComplianceSuite('libp2p (real nodes on 127.0.0.1)', (n) => libp2pHarness(n));
