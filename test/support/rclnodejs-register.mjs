// `node --import ./test/support/rclnodejs-register.mjs script.mjs`: the script's
// `import('rclnodejs')` loads the stand-in rclnodejs-stub.mjs instead of ROS 2.
import { register } from 'node:module';

register('./rclnodejs-hooks.mjs', import.meta.url);
