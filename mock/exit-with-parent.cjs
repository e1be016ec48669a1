// Preloaded into Prism (node --require) by mock/start-mock.ts. Prism's stdin is a pipe from the process that started
// it; when that process dies without calling stop() (a test runner killed mid-run, `kill -9` on npm run mock) the
// pipe closes, and Prism follows instead of holding its port forever. Plain CommonJS: Prism runs on plain Node.
'use strict';

const leave = () => process.exit(0);
process.stdin.once('end', leave);
process.stdin.once('error', leave);
process.stdin.resume();
