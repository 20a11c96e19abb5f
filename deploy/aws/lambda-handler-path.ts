/** Where the compiled Lambda handler is, in the project and in the artifact (the same relative path in both). */
import * as path from 'node:path';

/** The handler module, relative to the project root (and to the artifact's root, `LAMBDA_TASK_ROOT`). */
export const LAMBDA_HANDLER_RELATIVE = 'lib/deploy/aws/lambda-handler.js';

/** Lambda's handler setting for it: the module path without `.js`, then the export. */
export const LAMBDA_HANDLER_SETTING = 'lib/deploy/aws/lambda-handler.handler';

/** The compiled handler module of this project (this file compiles beside it). */
export const LAMBDA_HANDLER_MODULE = path.join(__dirname, 'lambda-handler.js');
