/** Entry point kept for `npm run audit:openapi`; the CLI is src/audit/cli.ts. */
import {main} from '../audit/cli';

export {runCli} from '../audit/cli';

if (require.main === module) main();
