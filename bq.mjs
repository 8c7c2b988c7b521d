import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
const b = createRequire(import.meta.url)('node-gyp-build')('/work/main');
const W=1920,H=1080,Hi=616,Wi=1064;
const pixels = new Uint8Array(W*H*3); for (let i=0;i<pixels.length;i++) pixels[i]=(Math.imul(i, 2654435761) >>> 24) & 255;
const image = { pixels, width: W, height: H, channels: 3, order: 'rgb' };
const out = new Float32Array(3*Hi*Wi);
for (const th of [1,2,3,4,8]) { b.setNumThreads(th);
const t=[]; for(let i=0;i<60;i++){ const a=performance.now(); await b.preprocess({ image, inputHeight: Hi, inputWidth: Wi, normaliseInGraph: false, dtype: 'float32', maxPixels: 0, out }); t.push(performance.now()-a);} t.sort((a,b)=>a-b); console.log(th, t[30].toFixed(2));}
const lb=b.letterbox(H,W,Hi,Wi); const canon=new Float32Array(Hi*Wi).fill(3); const dout=new Float32Array(W*H);
for (const th of [1,2]) { b.setNumThreads(th);
const t=[]; for(let i=0;i<60;i++){ const a=performance.now(); await b.postprocess({ letterbox: lb, metricScale: 0.5, depth: canon, outDepth: dout }); t.push(performance.now()-a);} t.sort((a,b)=>a-b); console.log('post', th, t[30].toFixed(2));}
