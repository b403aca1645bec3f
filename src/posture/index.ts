/** Runtime posture self-check: pure assessment, I/O gathering and the start-up hook for main(). */
export * from './posture';
export {checkPostureAtStartup, gatherPostureInput, realProbe, runPostureCheck, scanFilesystem} from './posture-io';
export type {GatherOptions, PostureMode} from './posture-io';
