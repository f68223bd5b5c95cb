// ActLab without WebGPU: the same API on the CPU module (Flex, WebAssembly SIMD), same keys.
import { hasWebGpu, loadCpu } from 'actlab';

const cpu = await loadCpu();                              // the second .wasm, fetched only now
const device = await cpu.createDevice();                  // the CPU: no adapter to ask for
const data = (await cpu.loadFashionMnist('/data/fashion-mnist/')).truncate(4096);
const keys = cpu.split(cpu.key(42), 2);                   // the same keys give the same run as on a GPU
const [initKey, orderKey] = [keys.slice(0, 2), keys.slice(2)];
let state = cpu.init(device, initKey, { activation: 'swish', mlp: { hidden: [64] } });
const epoch = data.upload(device, 'train').epoch(orderKey, 64);
for (let i = 0; i < epoch.batches; i++) {
  ({ state } = cpu.trainStep(state, epoch.batch(i)));
}
const { loss, accuracy } = await cpu.evalStep(state, data.upload(device, 'test').range(0, 1000)).read();
document.querySelector('#out')!.textContent =
  `CPU (WebGPU ${hasWebGpu() ? 'present' : 'absent'}): test loss ${loss.toFixed(3)}, accuracy ${(100 * accuracy).toFixed(1)}%`;
