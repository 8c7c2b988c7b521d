#!/usr/bin/env node
'use strict';
// The `metric3d` command: see `metric3d --help`.
require('../dist/cjs/cli/main.js')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
