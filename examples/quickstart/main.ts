// ActLab quickstart: train a small MLP on FashionMNIST with WebGPU, then evaluate it.
import { load, Gpu, loadFashionMnist, key, split, init, epochBatches, trainStep, evalStep, range } from 'actlab';

await load();                                             // instantiate the wasm module
const gpu = await Gpu.create();                           // ask the browser for a WebGPU device
const data = (await loadFashionMnist('/data/fashion-mnist/')).truncate(4096);
const [initKey, orderKey] = [split(key(42), 2).slice(0, 2), split(key(42), 2).slice(2)];
let state = init(gpu, initKey, { activation: 'swish', mlp: { hidden: [64] } });
for (const idx of epochBatches(data, orderKey, 64)) {     // one epoch, order drawn from a key
  ({ state } = trainStep(state, data.batch(gpu, 'train', idx)));
}
const { loss, accuracy } = await evalStep(state, data.batch(gpu, 'test', range(0, 1000))).read();
document.querySelector('#out')!.textContent = `test loss ${loss.toFixed(3)}, accuracy ${(100 * accuracy).toFixed(1)}%`;
