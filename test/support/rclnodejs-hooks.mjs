// Module resolution hook: 'rclnodejs' is the stand-in of rclnodejs-stub.mjs.
export async function resolve(specifier, context, next) {
  if (specifier === 'rclnodejs') return { url: new URL('./rclnodejs-stub.mjs', import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
