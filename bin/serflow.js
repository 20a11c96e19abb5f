#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'lib', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  console.error('serflow: not built yet. Run `npm run setup` (installs the server binaries and builds) first.');
  process.exit(1);
}
require(main);
