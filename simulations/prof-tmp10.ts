import { calibrateModel, defaultCalibrationOptions } from './calibration/calibrate.ts';
console.log(JSON.stringify(calibrateModel(defaultCalibrationOptions)));
