import { calibrate } from './calibration/calibrate.ts';
const r = await calibrate();
console.log(JSON.stringify(r, null, 1));
process.exit(0);
