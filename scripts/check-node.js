#!/usr/bin/env node
/*
 * Run by `npm start` / `npm test` (prestart, pretest): refuses a Node.js line that is past its
 * end of life. The project pins Node 24 as a dev dependency (the npm `node` package), whose
 * binary npm puts first on the scripts' PATH; this check catches an install that skipped it
 * (e.g. `npm ci --ignore-scripts`) and would silently fall back to the machine's own node.
 */
'use strict';
const major = Number(process.versions.node.split('.')[0]);
const SUPPORTED = [22, 24];
if (major < Math.min(...SUPPORTED)) {
  process.stderr.write(
    `check-node: Node.js ${process.version} (${process.execPath}) is past its end of life; this project runs on Node ${SUPPORTED.join(' or ')}.\n` +
      '  `npm ci` installs Node 24 into node_modules (the `node` dev dependency) and npm scripts use it;\n' +
      '  if it is missing, run `npm ci` again without --ignore-scripts, or put Node 22/24 first on PATH.\n',
  );
  process.exit(1);
}
