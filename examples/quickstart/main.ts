// ActLab quickstart: train a small MLP on FashionMNIST with WebGPU, then evaluate it.
import { load, Gpu, loadFashionMnist, key, split, init, trainStep, evalStep } from 'actlab';

await load();                                             // instantiate the wasm module
const gpu = await Gpu.create();                           // ask the browser for a WebGPU device
const data = (await loadFashionMnist('/data/fashion-mnist/')).truncate(4096);
const keys = split(key(42), 2);                           // one root key: init and batch order
const [initKey, orderKey] = [keys.slice(0, 2), keys.slice(2)];
let state = init(gpu, initKey, { activation: 'swish', mlp: { hidden: [64] } });
const epoch = data.upload(gpu, 'train').epoch(orderKey, 64); // images to the GPU once; order from a key
for (let i = 0; i < epoch.batches; i++) {                 // each batch is gathered on the GPU
  ({ state } = trainStep(state, epoch.batch(i)));
}
const { loss, accuracy } = await evalStep(state, data.upload(gpu, 'test').range(0, 1000)).read();
document.querySelector('#out')!.textContent = `test loss ${loss.toFixed(3)}, accuracy ${(100 * accuracy).toFixed(1)}%`;
